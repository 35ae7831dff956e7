"""A 10,000-recipient broadcast through a real SMTP server: the worker SIGKILLed mid-way and restarted
loses nobody and sends a second copy only of what was in flight; two dispatchers on PostgreSQL
send nothing twice."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, insert, select

from incident import clock
from incident.broadcast.sender import Sender
from incident.broadcast.service import prepare_due
from incident.customers.models import Customer
from incident.extensions import db
from incident.outbox.models import Delivery

from ..conftest import TEST_DATABASE_URL
from ..helpers import ROOT, declare, wait_for

RECIPIENTS = 10_000


def add_segment(app, count: int, segment: str = "crowd") -> None:
    now = datetime.now(timezone.utc)
    with app.app_context():
        db.session.execute(insert(Customer), [
            {"name": f"Customer {n}", "email": f"c{n}@example.com", "locale": "it" if n % 3 == 0 else "en",
             "segment": segment, "channels": ["email"], "opted_out": [], "created_at": now, "updated_at": now}
            for n in range(count)])
        db.session.commit()


def status_counts() -> dict[str, int]:
    return dict(db.session.execute(select(Delivery.status, func.count()).where(Delivery.purpose == "broadcast")
                                   .group_by(Delivery.status)).all())


def start_worker(database_url, smtp, log):
    """The worker in a subprocess, logging into a file (a full stderr pipe would stall it). The lease is short, so
    the second worker takes over the killed one's rows soon, but not so short that rows waiting in a worker's
    own queue on a loaded machine outlive it (2 s did at load 17: they were claimed again and sent twice)."""
    env = {**os.environ, "SECRET_KEY": "x", "DATABASE_URL": database_url, "SCHEDULER_TICK_SECONDS": "0.2",
           "PUBLIC_BASE_URL": "http://tocsin.test", "SMTP_HOST": smtp.host, "SMTP_PORT": str(smtp.port),
           "MAIL_FROM": "status@tocsin.test", "DISPATCH_LEASE_SECONDS": "8", "DISPATCH_THREADS": "16",
           "CHANNEL_RATE_LIMITS": "email=1500", "LOG_LEVEL": "WARNING"}
    for key in ("SLACK_BOT_TOKEN", "TWILIO_ACCOUNT_SID"):
        env.pop(key, None)
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log.open("a"), text=True)
    proc.stderr = log.open()  # what wait_for shows if the worker dies
    return proc


def stop(proc, sig=signal.SIGKILL):
    proc.send_signal(sig)
    proc.wait(timeout=20)
    proc.stderr.close()


def test_kill_the_worker_mid_broadcast_and_restart(app, api, database_url, smtp_server, tmp_path):  # noqa: F811
    add_segment(app, RECIPIENTS)
    incident = declare(api)
    clock.unfreeze()
    response = api.post(f"/api/v1/incidents/{incident['id']}/broadcasts",
                        json={"kind": "apology", "channels": ["email"], "audience": {"segments": ["crowd"]}})
    assert response.status_code == 201, response.get_json()

    log = tmp_path / "worker.log"
    proc = start_worker(database_url, smtp_server, log)
    try:
        wait_for(app, proc, lambda: status_counts().get("sent", 0) >= 2_000, "a fifth of the broadcast", ticks=600)
    finally:
        stop(proc)
    with app.app_context():
        in_flight = set(db.session.scalars(select(Delivery.recipient).where(Delivery.purpose == "broadcast",
                                                                           Delivery.status == "sending")))
        before = status_counts()
        db.session.remove()
    assert before.get("queued", 0) > 0, "the kill came too late to test anything"

    proc = start_worker(database_url, smtp_server, log)
    try:
        wait_for(app, proc, lambda: status_counts() == {"sent": RECIPIENTS}, "every message sent", ticks=900)
    finally:
        stop(proc, signal.SIGTERM)

    received = Counter(rcpt for mail in smtp_server.received for rcpt in mail.rcpt_tos)
    assert len(received) == RECIPIENTS                      # everybody got their message
    twice = {address for address, n in received.items() if n > 1}
    assert all(n <= 2 for n in received.values())
    assert twice <= in_flight                               # a second copy only of what was in flight at the kill
    assert len(twice) <= len(in_flight) <= 16 * 2             # at most what one dispatcher holds claimed


@pytest.mark.skipif(not (TEST_DATABASE_URL or "").startswith("postgres"), reason="two dispatchers at once need PostgreSQL")
def test_two_dispatchers_on_postgresql_send_nothing_twice(app, api, channels):
    add_segment(app, 3_000)
    declare(api)
    incident_id = declare(api, title="Second")["id"]
    for segment_kind in ("apology", "resolution"):
        api.post(f"/api/v1/incidents/{incident_id}/broadcasts",
                 json={"kind": segment_kind, "channels": ["email"], "audience": {"segments": ["crowd"]}})
    rates = app.config["CHANNEL_RATE_LIMITS"]
    app.config["CHANNEL_RATE_LIMITS"] = {**rates, "email": 100000.0}
    try:
        with app.app_context():
            assert prepare_due() == 2
        senders = [Sender(app, threads=8), Sender(app, threads=8)]
        errors = []

        def run(sender):
            try:
                sender.run(budget=60)
            except Exception as error:  # surfaced below
                errors.append(error)

        threads = [threading.Thread(target=run, args=(sender,)) for sender in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        for sender in senders:
            sender.close()
    finally:
        app.config["CHANNEL_RATE_LIMITS"] = rates
    assert errors == []
    sent = Counter(to for to, _ in channels["email"].sent)
    assert len(sent) == 3_000 and set(sent.values()) == {2}     # two broadcasts, each exactly once per customer
    with app.app_context():
        assert status_counts() == {"sent": 6_000}
