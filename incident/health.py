"""/healthz: is the database reachable, and when did a worker last tick."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select, text

from .clock import isoformat, utcnow
from .extensions import db
from .escalation.service import overdue_count
from .heartbeat import WorkerHeartbeat

logger = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        last_tick = db.session.scalar(select(func.max(WorkerHeartbeat.last_tick_at)))
    except Exception:  # any database failure is "database: error", never a 500
        logger.exception("health check: database unreachable")
        db.session.rollback()
        return jsonify({"status": "error", "database": "error", "worker": {"last_tick_at": None}}), 503
    tick = current_app.config["SCHEDULER_TICK_SECONDS"]
    stale = last_tick is None or (utcnow() - last_tick).total_seconds() > max(30.0, 10 * tick)
    overdue = overdue_count(seconds=max(5 * tick, 5.0))
    return jsonify({"status": "ok", "database": "ok",
                    "worker": {"last_tick_at": isoformat(last_tick), "stale": stale},
                    "watchdog": {"overdue_escalations": overdue}})
