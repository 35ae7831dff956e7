"""What the helpdesk tests share: tickets on both sides, and the worker's helpdesk step run until
nothing is left (the clock moved, never slept). The `connected` fixture is in conftest.py."""
from __future__ import annotations

from sqlalchemy import select

from incident import clock
from incident.extensions import db
from incident.helpdesk import sync
from incident.outbox.models import Delivery

WEBHOOK_SECRET = "zd-webhook-secret"


def both_sides(api, zendesk, count: int, *, tags=("login",), locale: str | None = None, start: int = 1) -> list[int]:
    """`count` tickets in the helpdesk, and the same tickets in Tocsin (as the webhook would bring them)."""
    ids = []
    for n in range(start, start + count):
        requester = {"name": f"Customer {n}", "email": f"c{n}@example.com", **({"locale": locale} if locale else {})}
        ticket = zendesk.add_ticket(id=n, subject=f"Cannot log in #{n}", tags=list(tags), requester=requester)
        ids.append(ticket["id"])
    for start_at in range(0, len(ids), 10_000):
        body = {"tickets": [{"external_id": str(i), "source": "zendesk", "subject": f"Cannot log in #{i}",
                             "tags": list(tags), "requester": {"name": f"Customer {i}", "email": f"c{i}@example.com"}}
                            for i in ids[start_at:start_at + 10_000]]}
        assert api.post("/api/v1/tickets", json=body).status_code == 200
    return ids


def sync_until_idle(app, *, rounds: int = 50) -> int:
    """Run the worker's helpdesk step, moving the clock past each job's first look, until no row is left."""
    for n in range(rounds):
        sync.run(app)
        with app.app_context():
            left = db.session.scalar(select(Delivery.id).where(
                Delivery.purpose == sync.PURPOSE, Delivery.status.in_(("queued", "sending", "sent"))).limit(1))
            db.session.rollback()
        if left is None:
            return n + 1
        clock.advance(seconds=3)
    raise AssertionError("the helpdesk sync did not finish")


def helpdesk_rows(app, **where) -> list[Delivery]:
    with app.app_context():
        query = select(Delivery).where(Delivery.purpose == sync.PURPOSE).order_by(Delivery.id)
        for key, value in where.items():
            query = query.where(getattr(Delivery, key) == value)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
        return rows
