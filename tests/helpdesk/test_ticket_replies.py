"""The broadcast channel `ticket`: a public reply on the customer's own helpdesk ticket, chosen by
preference and availability like any channel, exactly once, falling back when the helpdesk refuses."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from incident import clock
from incident.broadcast import sender as broadcast_sender
from incident.extensions import db
from incident.helpdesk.replies import TicketReplies
from incident.helpdesk.zendesk import ZendeskHelpdesk
from incident.outbox.channels.sandbox import SandboxChannel
from incident.outbox.models import Delivery

from ..helpers import broadcast, declare, run_worker
from ..zendesk_stand_in import ZD_EMAIL, ZD_TOKEN
from .support import both_sides


@pytest.fixture
def replies(app, connected):
    """Sandboxes for email, SMS and Slack; ticket replies go to the Zendesk stand-in."""
    recorded = {name: SandboxChannel(name) for name in ("slack", "sms", "email")}
    recorded["ticket"] = TicketReplies(ZendeskHelpdesk(connected.url, ZD_EMAIL, ZD_TOKEN), per_minute=60_000)
    app.extensions["tocsin_channels"] = recorded
    yield recorded
    app.extensions.pop("tocsin_channels", None)


def rows(app):
    with app.app_context():
        found = db.session.execute(select(Delivery.channel, Delivery.recipient, Delivery.status, Delivery.error)
                                   .where(Delivery.purpose == "broadcast").order_by(Delivery.id)).all()
        db.session.rollback()
        return found


def test_requesters_get_a_public_reply_on_their_own_ticket(app, api, connected, replies):
    zendesk = connected
    incident = declare(api, services=["login"])
    ids = both_sides(api, zendesk, 3)
    api.post(f"/api/v1/incidents/{incident['id']}/tickets", json={"filter": {"tags": ["login"]}})
    # someone who wrote through the API, not the helpdesk: no ticket there, so email
    api.post("/api/v1/tickets", json={"external_id": "W-1", "source": "web", "tags": ["login"],
                                      "requester": {"name": "Web", "email": "web@example.com"}})
    api.post(f"/api/v1/incidents/{incident['id']}/tickets", json={"external_ids": ["W-1"], "source": "web"})
    response = broadcast(api, incident["id"], channels=["ticket", "email"], audience={"linked_requesters": True})
    assert response.status_code == 201, response.get_json()
    run_worker(app)

    assert sorted((c, r, s) for c, r, s, _ in rows(app)) == sorted(
        [("ticket", str(i), "sent") for i in ids] + [("email", "web@example.com", "sent")])
    for i in ids:
        [reply] = zendesk.comments_on(i, public=True)
        assert reply["body"].startswith(f"Hello Customer {i},") and "problems with login" in reply["body"]
        assert "unsubscribe" not in reply["body"].lower() and "You are receiving this" not in reply["body"]
        assert any(tag.startswith("tocsin_b") for tag in zendesk.tickets[i]["tags"])
    assert [to for to, _ in replies["email"].sent] == ["web@example.com"]


def test_a_ticket_the_helpdesk_refuses_falls_back_to_email(app, api, connected, replies):
    zendesk = connected
    incident = declare(api, services=["login"])
    ids = both_sides(api, zendesk, 2)
    zendesk.fail_ticket(ids[0], details="Ticket is closed")
    api.post(f"/api/v1/incidents/{incident['id']}/tickets", json={"filter": {"tags": ["login"]}})
    broadcast(api, incident["id"], channels=["ticket", "email"], audience={"linked_requesters": True})
    run_worker(app)
    found = {r: (c, s) for c, r, s, _ in rows(app)}
    assert found[str(ids[1])] == ("ticket", "sent")
    assert found[f"c{ids[0]}@example.com"] == ("email", "sent")
    assert zendesk.comments_on(ids[0], public=True) == []


def test_a_reply_is_never_posted_twice_after_a_kill(app, api, connected, replies, frozen):
    zendesk = connected
    incident = declare(api, services=["login"])
    ids = both_sides(api, zendesk, 3)
    api.post(f"/api/v1/incidents/{incident['id']}/tickets", json={"filter": {"tags": ["login"]}})
    broadcast(api, incident["id"], channels=["ticket"], audience={"linked_requesters": True})

    def die(self, done):   # the process dies here: Zendesk has the replies, Tocsin has not written them down
        raise SystemExit("killed")

    record = broadcast_sender.Sender.record
    broadcast_sender.Sender.record = die
    try:
        with pytest.raises(SystemExit):
            run_worker(app)
    finally:
        broadcast_sender.Sender.record = record
        app.extensions.pop("tocsin_sender").close()   # the dead process's sends end; a new process starts afresh
    taken = [int(r) for _, r, s, _ in rows(app) if s == "sending"]   # claimed (two at a time at 1 a second)
    assert taken and all(len(zendesk.comments_on(i, public=True)) == 1 for i in taken)

    clock.advance(seconds=app.config["DISPATCH_LEASE_SECONDS"] + 1)
    run_worker(app)
    assert {s for _, _, s, _ in rows(app)} == {"sent"}
    for i in ids:
        assert len(zendesk.comments_on(i, public=True)) == 1, i
    assert len(zendesk.calls("show_many", "GET")) >= 1     # it looked before replying again


def test_the_compose_preview_shows_the_ticket_reply(app, api, client, make_user):
    from ..helpers import logged_in
    from ..web_helpers import preview

    incident = declare(api, services=["login"])
    logged_in(client, make_user, role="lead")
    page = preview(client, incident["id"], channels=["ticket"]).get_data(as_text=True)
    assert "public reply on the customer" in page and "problems with login" in page
