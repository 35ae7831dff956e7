"""The worker process: the only place timers fire. The only module that imports apscheduler.

Each job is a plain function of the app, so tests call it directly (twice, to prove it is
idempotent) and the scheduler merely calls it on a clock.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from datetime import datetime, timedelta, timezone

from flask import Flask
from sqlalchemy import select

from .broadcast.reminders import remind_due
from .broadcast.sender import dispatch_broadcasts
from .broadcast.service import prepare_due
from .clock import utcnow
from .escalation.service import process_due
from .extensions import db
from .heartbeat import WorkerHeartbeat
from .helpdesk import intake as helpdesk_intake
from .helpdesk import sync as helpdesk_sync
from .outbox.dispatch import BATCH, dispatch_due
from .reviews.reminders import remind_due as remind_reviews_due
from .status.jobs import status_page
from .tickets.floods import refresh_flood_signals
from .webhooks import sender as webhook_sender
from .webhooks.completions import queue_completions

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


def prune_heartbeats(app: Flask) -> None:
    """Forget workers that have not ticked for a day."""
    with app.app_context():
        cutoff = utcnow() - timedelta(days=1)
        for row in db.session.scalars(select(WorkerHeartbeat).where(WorkerHeartbeat.last_tick_at < cutoff)):
            db.session.delete(row)
        db.session.commit()


def flood_signals(app: Flask) -> None:
    """Look for possible outages in the recent ticket flow."""
    refresh_flood_signals(app)


ESCALATION_BATCH = 100
DRAIN_SECONDS = 5.0   # a tick keeps working through a burst this long, then lets the next tick run


def escalations(app: Flask) -> None:
    """Page the next level wherever an acknowledgement deadline has passed.

    In a burst (hundreds of deadlines at once) it works in batches and sends each batch's pages
    before the next, so the first pages do not wait for the last escalation.
    """

    started = time.monotonic()
    while True:
        with app.app_context():
            try:
                advanced = process_due(limit=ESCALATION_BATCH)
            except Exception:
                db.session.rollback()
                raise
        if advanced < ESCALATION_BATCH or time.monotonic() - started > DRAIN_SECONDS:
            return
        dispatch(app)  # this batch's pages leave before the next batch is worked out


def dispatch(app: Flask) -> None:
    """Send the pages and staff messages the outbox holds that are due, all of them in a burst."""
    started = time.monotonic()
    while dispatch_due(app, limit=BATCH) == BATCH and time.monotonic() - started < DRAIN_SECONDS:
        pass


def broadcasts(app: Flask) -> None:
    """Turn due broadcast sends into outbox rows, then send customers' messages until none is due.

    Runs beside the tick, not in it, so a 100,000-recipient broadcast never delays a page.
    """

    try:
        with app.app_context():
            try:
                prepare_due()
            except Exception:
                db.session.rollback()
                raise
    finally:  # messages already queued go out whatever happened above
        dispatch_broadcasts(app)


def broadcast_reminders(app: Flask) -> None:
    """Tell the communications role when a promised update is due and nothing is scheduled."""
    with app.app_context():
        try:
            remind_due()
        except Exception:
            db.session.rollback()
            raise


def review_reminders(app: Flask) -> None:
    """Remind commanders of reviews still in draft, and owners of action items due tomorrow or today."""
    with app.app_context():
        try:
            remind_reviews_due()
        except Exception:
            db.session.rollback()
            raise


def helpdesk(app: Flask) -> None:
    """Carry links, unlinks and solves out to the helpdesk, paced by the budget all workers share."""
    helpdesk_sync.run(app)


def helpdesk_export(app: Flask) -> None:
    """Follow the helpdesk's incremental export: tickets whose webhook was lost arrive anyway."""
    helpdesk_intake.export_due(app)


def webhooks(app: Flask) -> None:
    """Send the outgoing webhook messages that are due (retries included). Its own job beside the tick:
    a slow endpoint never delays a page."""
    try:
        with app.app_context():
            try:
                queue_completions()   # broadcast sends that have settled since the last run
            except Exception:
                db.session.rollback()
                raise
    finally:  # messages already queued go out whatever happened above
        started = time.monotonic()
        while webhook_sender.dispatch_due(app) == webhook_sender.BATCH and time.monotonic() - started < DRAIN_SECONDS:
            pass


# What every tick runs, in order: deadlines first, so a page queued now leaves this tick.
TICK_JOBS = [heartbeat, escalations, dispatch]
# Slower periodic jobs: (job, seconds between runs).
# (maintenance windows move on their own, and their notices go out before they start)
PERIODIC_JOBS = [(flood_signals, 60), (prune_heartbeats, 3600), (broadcast_reminders, 60), (status_page, 15),
                 (review_reminders, 60)]


def tick(app: Flask) -> None:
    """One pass over every tick job; one failing job does not stop the others."""
    for job in TICK_JOBS:
        try:
            job(app)
        except Exception:
            logger.exception("worker job %s failed; it runs again next tick", job.__name__)


def _logged(job):
    """A scheduler job that logs its failure and runs again at its next time."""
    def run_job(app: Flask) -> None:
        try:
            job(app)
        except Exception:
            logger.exception("worker job %s failed; it runs again", job.__name__)
    run_job.__name__ = run_job.__qualname__ = job.__name__   # the scheduler's lines name the job
    return run_job


def run(app: Flask) -> None:
    """Run the scheduler in the foreground until interrupted."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    seconds = app.config["SCHEDULER_TICK_SECONDS"]
    scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                "misfire_grace_time": None})
    scheduler.add_job(tick, "interval", seconds=seconds, args=[app], id="tick",
                      next_run_time=datetime.now(timezone.utc))
    scheduler.add_job(_logged(broadcasts), "interval", seconds=seconds, args=[app], id="broadcasts",
                      next_run_time=datetime.now(timezone.utc))
    scheduler.add_job(_logged(webhooks), "interval", seconds=seconds, args=[app], id="webhooks",
                      next_run_time=datetime.now(timezone.utc))
    scheduler.add_job(_logged(helpdesk), "interval", seconds=seconds, args=[app], id="helpdesk",
                      next_run_time=datetime.now(timezone.utc))
    scheduler.add_job(_logged(helpdesk_export), "interval", seconds=app.config["HELPDESK_EXPORT_SECONDS"], args=[app],
                      id="helpdesk_export", next_run_time=datetime.now(timezone.utc))
    for job, every in PERIODIC_JOBS:
        scheduler.add_job(job, "interval", seconds=every, args=[app], id=job.__name__,
                          next_run_time=datetime.now(timezone.utc))
    logger.info("worker %s ticking every %ss", worker_id(), seconds)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        logger.info("worker %s stopping", worker_id())
