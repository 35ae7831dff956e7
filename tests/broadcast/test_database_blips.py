"""A database blip mid-broadcast and mid-paging: the dispatcher records the sends it already made once
the database answers again — on a new connection — instead of leaving them 'sending' until the
lease lets another worker send them a second time."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from incident import clock, worker
from incident.broadcast import sender as sender_module
from incident.broadcast.sender import Sender
from incident.broadcast.service import prepare_due
from incident.extensions import db
from incident.outbox import dispatch
from incident.outbox.models import Delivery

from ..conftest import TEST_DATABASE_URL
from ..helpers import add_customers, declare

CUSTOMERS = 60


def statuses(app, purpose="broadcast") -> dict[str, int]:
    with app.app_context():
        counts = dict(db.session.execute(select(Delivery.status, func.count()).where(Delivery.purpose == purpose)
                                         .group_by(Delivery.status)).tuples().all())
        db.session.remove()
        return counts


def apology(app, api) -> None:
    add_customers(app, *({"name": f"C{n}", "email": f"c{n}@example.com", "channels": ["email"],
                          "services": ["login"]} for n in range(CUSTOMERS)))
    incident = declare(api, services=["login"])
    assert api.post(f"/api/v1/incidents/{incident['id']}/broadcasts", json={
        "kind": "apology", "channels": ["email"], "audience": {"service_subscribers": True}}).status_code == 201
    with app.app_context():
        assert prepare_due() == 1


def test_results_held_through_a_dropped_connection_are_written_when_it_is_back(app, api, channels, monkeypatch):
    apology(app, api)
    real, failures, pauses = sender_module.write_outcomes, [2], []

    def flaky(values, now):
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("UPDATE deliveries", {}, Exception("server closed the connection unexpectedly"))
        return real(values, now)

    monkeypatch.setattr(sender_module, "write_outcomes", flaky)
    sender = Sender(app, threads=4)
    sender._pause = pauses.append                      # no waiting in a test: record how long it would have
    try:
        assert sender.run(budget=30) == CUSTOMERS
    finally:
        sender.close()
    assert pauses == list(dispatch.RECONNECT_WAITS[:2])
    assert statuses(app) == {"sent": CUSTOMERS}          # nothing left 'sending' for the lease
    assert set(Counter(to for to, _ in channels["email"].sent).values()) == {1}


def test_a_database_away_for_longer_than_the_retries_leaves_the_lease_to_recover(app, api, channels, monkeypatch):
    apology(app, api)

    def down(values, now):
        raise OperationalError("UPDATE deliveries", {}, Exception("connection refused"))

    monkeypatch.setattr(sender_module, "write_outcomes", down)
    sender = Sender(app, threads=4)
    sender._pause = lambda seconds: None
    try:
        with pytest.raises(OperationalError):
            sender.run(budget=30)
    finally:
        sender.close()
    assert statuses(app).get("sending", 0) > 0          # claimed and sent: the lease puts them back, as before


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="killing the dispatcher's connection needs PostgreSQL")
def test_the_dispatchers_connection_killed_mid_broadcast(app, api, channels, database_url):
    """A real blip: the 20th send terminates, from outside, every connection Tocsin holds to the database
    (the dispatcher's among them), as a PostgreSQL restart or pg_terminate_backend does."""
    apology(app, api)
    email, killed = channels["email"], []
    outside = create_engine(database_url, poolclass=NullPool)

    class Killer:
        name, sandbox = "email", True

        def send(self, to, message):
            result = email.send(to, message)
            if len(email.sent) == 20 and not killed:
                with outside.connect() as conn:
                    killed.append(conn.execute(text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one())
                    conn.commit()
            return result

    app.extensions["tocsin_channels"]["email"] = Killer()
    sender = Sender(app, threads=1)
    sender._pause = lambda seconds: None
    try:
        sender.run(budget=30)
    finally:
        sender.close()
        app.extensions["tocsin_channels"]["email"] = email
    assert killed and killed[0] >= 1
    if statuses(app).get("queued"):                     # what the dispatcher had not claimed yet: the next run
        sender = Sender(app, threads=1)
        try:
            sender.run(budget=30)
        finally:
            sender.close()
    assert statuses(app) == {"sent": CUSTOMERS}
    assert set(Counter(to for to, _ in email.sent).values()) == {1}


def attempts(app, purpose="broadcast") -> Counter:
    with app.app_context():
        counts = Counter(db.session.scalars(select(Delivery.attempts).where(Delivery.purpose == purpose)))
        db.session.remove()
        return counts


def test_rows_claimed_just_before_the_connection_dropped_go_back_at_once(app, api, channels, monkeypatch):
    """The claim committed, then the connection died while the dispatcher read what to send: the rows go
    back to the queue on a new connection, their try not counted — not 'sending' for the 5-minute lease."""
    apology(app, api)
    real, failures = Sender._message, [1]

    def flaky(self, message_id):
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("SELECT broadcast_messages", {}, Exception("terminating connection due to "
                                                                              "administrator command"))
        return real(self, message_id)

    monkeypatch.setattr(Sender, "_message", flaky)
    sender = Sender(app, threads=4)
    sender._pause = lambda seconds: None
    try:
        with pytest.raises(OperationalError):
            sender.run(budget=30)                       # nothing held: the error goes to the job's log
        assert statuses(app) == {"queued": CUSTOMERS} and attempts(app) == {0: CUSTOMERS}
        assert not channels["email"].sent               # nothing left before the blip
        assert sender.run(budget=30) == CUSTOMERS        # the next run sends them all, at once
    finally:
        sender.close()
    assert statuses(app) == {"sent": CUSTOMERS} and attempts(app) == {1: CUSTOMERS}
    assert set(Counter(to for to, _ in channels["email"].sent).values()) == {1}


def test_a_claim_whose_commit_was_cut_off_is_put_back(app, api, channels, monkeypatch):
    """The claim's COMMIT reached the database but its answer never came back: the rows are 'sending' and the
    dispatcher does not know it holds them. It puts them back, guarded by their claim time."""
    apology(app, api)
    real, failures = db.session.commit, [1]

    def cut_off():
        real()
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    with app.app_context():
        monkeypatch.setattr(db.session, "commit", cut_off)
        with pytest.raises(OperationalError):
            dispatch.claim(20, Delivery.purpose == "broadcast")
        monkeypatch.undo()
        db.session.remove()
    assert statuses(app) == {"queued": CUSTOMERS} and attempts(app) == {0: CUSTOMERS}


def test_pages_sent_through_a_blip_are_recorded_once(app, api, setup, monkeypatch):
    incident = declare(api)
    assert api.post(f"/api/v1/incidents/{incident['id']}/escalate", json={}).status_code == 200
    real, failures = dispatch.write_outcomes, [1]

    def flaky(values, now):
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("UPDATE deliveries", {}, Exception("terminating connection"))
        return real(values, now)

    monkeypatch.setattr(dispatch, "write_outcomes", flaky)
    pauses: list[float] = []
    monkeypatch.setattr(dispatch.time, "sleep", pauses.append)
    worker.tick(app)
    pages = statuses(app, "page")
    assert pages and set(pages) == {"sent"} and pauses == [dispatch.RECONNECT_WAITS[0]]
    clock.advance(minutes=10)
    worker.tick(app)
    assert statuses(app, "page") == pages               # nothing sent again
