"""Kill the worker mid-escalation and start it again: nothing lost, nothing paged twice."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from incident import clock
from incident.escalation.models import EscalationStep, IncidentEscalation
from incident.extensions import db
from incident.heartbeat import WorkerHeartbeat
from incident.outbox.models import Delivery

from ..helpers import ROOT, declare, wait_for


def start_worker(database_url):
    env = {**os.environ, "SECRET_KEY": "x", "DATABASE_URL": database_url, "SCHEDULER_TICK_SECONDS": "0.2",
           "PUBLIC_BASE_URL": "http://tocsin.test"}
    for key in ("SLACK_BOT_TOKEN", "TWILIO_ACCOUNT_SID", "SMTP_HOST"):
        env.pop(key, None)  # every channel is the sandbox
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)




def heartbeat_ticks():
    return db.session.scalar(select(func.coalesce(func.sum(WorkerHeartbeat.ticks), 0)))


def test_kill_and_restart_mid_escalation(app, api, setup, database_url):  # noqa: F811
    real_now = datetime.now(timezone.utc)
    clock.freeze(real_now - timedelta(hours=2))  # escalated two hours ago: L1's hour is long over
    late = declare(api, title="Late deadline")["id"]
    api.post(f"/api/v1/incidents/{late}/escalate", json={})
    clock.freeze(real_now)
    pending = declare(api, title="Pending deadline")["id"]
    api.post(f"/api/v1/incidents/{pending}/escalate", json={})
    clock.unfreeze()
    with app.app_context():
        pending_deadline = db.session.get(IncidentEscalation, pending).next_deadline_at

    def l2_paged():
        return db.session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.incident_id == late, Delivery.recipient == "UBOB", Delivery.status == "sent")) == 1

    proc = start_worker(database_url)
    try:
        wait_for(app, proc, l2_paged, "the late deadline to fire on start-up")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stderr.close()

    proc = start_worker(database_url)
    try:
        with app.app_context():
            start = heartbeat_ticks()
        wait_for(app, proc, lambda: heartbeat_ticks() >= start + 5, "five more ticks after the restart")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stderr.close()

    with app.app_context():
        steps = db.session.execute(select(EscalationStep.incident_id, EscalationStep.level_name)
                                   .order_by(EscalationStep.id)).all()
        assert steps == [(late, "L1"), (pending, "L1"), (late, "L2")]
        pages = db.session.execute(select(Delivery.incident_id, Delivery.channel, Delivery.recipient, Delivery.status)
                                   .where(Delivery.purpose == "page").order_by(Delivery.id)).all()
        assert all(status == "sent" for *_, status in pages)  # the pending L1 pages went out too
        assert len(pages) == len(set(p[:3] for p in pages)) == 7  # 2 + 2 for L1, 3 for L2: none twice
        esc = db.session.get(IncidentEscalation, pending)
        assert (esc.state, esc.next_deadline_at) == ("paging", pending_deadline)  # nothing lost
    events = api.get(f"/api/v1/incidents/{late}/timeline").get_json()["items"]
    assert [e["kind"] for e in events].count("deadline_late") == 1
