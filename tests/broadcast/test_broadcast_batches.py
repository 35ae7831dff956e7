"""The broadcast dispatcher claims and records in batches (the time-to-inform benchmark's fix), and
still sends everything exactly once, including rows that move to a channel it found empty."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from sqlalchemy import func, insert, select

from incident import clock
from incident.broadcast import sender as sender_module
from incident.broadcast.sender import Sender
from incident.broadcast.service import prepare_due
from incident.customers.models import Customer
from incident.extensions import db
from incident.outbox.channels import SendResult
from incident.outbox.models import Delivery

from ..helpers import declare


def add_customers(app, rows: list[dict]) -> None:
    now = datetime.now(timezone.utc)
    with app.app_context():
        db.session.execute(insert(Customer), [{"locale": "en", "segment": "crowd", "opted_out": [], "created_at": now,
                                               "updated_at": now, **row} for row in rows])
        db.session.commit()


def statuses(app) -> dict:
    with app.app_context():
        found = dict(db.session.execute(select(Delivery.status, func.count()).where(Delivery.purpose == "broadcast")
                                        .group_by(Delivery.status)).tuples().all())
        db.session.remove()
    return found


def queue(app, api, channels: list[str]) -> None:
    incident = declare(api)
    clock.unfreeze()
    response = api.post(f"/api/v1/incidents/{incident['id']}/broadcasts",
                        json={"kind": "apology", "channels": channels, "audience": {"segments": ["crowd"]}})
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        assert prepare_due() == 1
        db.session.remove()


def test_a_big_send_is_claimed_in_batches_and_sent_once_each(app, api, channels, monkeypatch):
    add_customers(app, [{"name": f"C {n}", "email": f"c{n}@example.com", "channels": ["email"]} for n in range(400)])
    queue(app, api, ["email"])
    app.config["CHANNEL_RATE_LIMITS"] = {**app.config["CHANNEL_RATE_LIMITS"], "email": 100000.0}
    asked: Counter = Counter()
    claimed: list[int] = []
    real_claim = sender_module.claim

    def counting_claim(limit, *where):
        ids = real_claim(limit, *where)
        channel = where[1].right.value
        asked[channel] += 1
        if channel == "email" and ids:
            claimed.append(len(ids))
        return ids

    monkeypatch.setattr(sender_module, "claim", counting_claim)
    sender = Sender(app, threads=8)
    try:
        assert sender.run(budget=60) == 400
    finally:
        sender.close()
    sent = Counter(to for to, _ in channels["email"].sent)
    assert len(sent) == 400 and set(sent.values()) == {1}
    assert statuses(app) == {"sent": 400}
    room = sender._room("email")                     # 16 with 8 threads
    assert min(claimed[:-1] or [room]) >= room // 2   # never a row or two at a time (the last may be the rest)
    assert asked["email"] <= 400 // (room // 2) + 2
    assert asked["sms"] <= asked["email"] // 2 + 2   # a channel with nothing due is not asked every round


class FailsForGood:
    """Email that refuses everyone for good (a bounced address), so each row moves on to SMS."""

    name, sandbox = "email", True

    def send(self, to, message):
        return SendResult(ok=False, error="550 mailbox unavailable")


def test_rows_moved_to_a_channel_found_empty_go_out_in_the_same_run(app, api, channels):
    add_customers(app, [{"name": f"C {n}", "email": f"c{n}@example.com", "phone": f"+3934710000{n:02d}",
                         "channels": ["email", "sms"]} for n in range(20)])
    queue(app, api, ["email", "sms"])
    channels["email"] = FailsForGood()
    sender = Sender(app, threads=4)
    try:
        sender.run(budget=60)            # sms is asked first and found empty; then every row falls back to it
    finally:
        sender.close()
    sent = Counter(to for to, _ in channels["sms"].sent)
    assert len(sent) == 20 and set(sent.values()) == {1}
    assert statuses(app) == {"sent": 20}


def test_a_row_whose_lease_ran_out_in_the_queue_is_left_to_whoever_claims_it_next(app, api, channels, monkeypatch):
    """A dispatcher whose queue is so slow that most of a claim's lease has gone by does not send what is
    left of it: after the lease another claim sends those rows, and both would have. The sender's clock is
    moved by hand: one claim of six, each send taking 0.3 s of a 1-second lease."""
    add_customers(app, [{"name": f"C {n}", "email": f"c{n}@example.com", "channels": ["email"]} for n in range(6)])
    queue(app, api, ["email"])
    monkeypatch.setitem(app.config, "DISPATCH_LEASE_SECONDS", 1.0)
    monkeypatch.setitem(app.config, "CHANNEL_RATE_LIMITS", {**app.config["CHANNEL_RATE_LIMITS"], "email": 1000.0})
    sender = Sender(app, threads=1)
    now = [100.0]
    sender._elapsed = lambda: now[0]
    monkeypatch.setattr(sender, "_room", lambda channel: 6 if channel == "email" else 0)
    real_send = sender._send

    def slow(job):
        result = real_send(job)
        now[0] += 0.3
        return result

    monkeypatch.setattr(sender, "_send", slow)
    try:
        sender.run(budget=0.5)    # claims stop before the 1 s lease could put the rest back (real time)
    finally:
        sender.close()
    assert len(channels["email"].sent) == 3            # at 0, 0.3 and 0.6 s; not at 0.9, past 80 % of the lease
    assert statuses(app) == {"sent": 3, "sending": 3}  # the rest wait for the lease's release, then go once
