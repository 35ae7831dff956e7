"""The worker process: the only place timers fire. The only module that imports apscheduler.

Each job is a plain function of the app, so tests call it directly (twice, to prove it is
idempotent) and the scheduler merely calls it on a clock.
"""
from __future__ import annotations

import logging
import os
import socket

from flask import Flask
from sqlalchemy import select

from .clock import utcnow
from .extensions import db
from .models import WorkerHeartbeat

logger = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def heartbeat(app: Flask, *, worker: str | None = None) -> None:
    """Record that this worker is alive (for /healthz and the watchdog)."""
    worker = worker or worker_id()
    with app.app_context():
        try:
            row = db.session.get(WorkerHeartbeat, worker)
            now = utcnow()
            if row is None:
                db.session.add(WorkerHeartbeat(worker_id=worker, started_at=now, last_tick_at=now, ticks=1))
            else:
                row.last_tick_at = now
                row.ticks += 1
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise


# The periodic jobs, in the order each tick runs them. Later capabilities add theirs here.
TICK_JOBS = [heartbeat]


def tick(app: Flask) -> None:
    """One pass over every job; one failing job does not stop the others."""
    for job in TICK_JOBS:
        try:
            job(app)
        except Exception:
            logger.exception("worker job %s failed; it runs again next tick", job.__name__)


def prune_heartbeats(app: Flask) -> None:
    """Forget workers that have not ticked for a day."""
    from datetime import timedelta

    with app.app_context():
        cutoff = utcnow() - timedelta(days=1)
        for row in db.session.scalars(select(WorkerHeartbeat).where(WorkerHeartbeat.last_tick_at < cutoff)):
            db.session.delete(row)
        db.session.commit()


def run(app: Flask) -> None:
    """Run the scheduler in the foreground until interrupted."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    seconds = float(app.config["SCHEDULER_TICK_SECONDS"])
    scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                "misfire_grace_time": None})
    scheduler.add_job(tick, "interval", seconds=seconds, args=[app], id="tick", next_run_time=utcnow())
    scheduler.add_job(prune_heartbeats, "interval", hours=1, args=[app], id="prune")
    logger.info("worker %s ticking every %ss", worker_id(), seconds)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        logger.info("worker %s stopping", worker_id())
