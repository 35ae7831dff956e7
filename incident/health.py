"""/healthz: is the database reachable, and when did a worker last tick.

Anyone may ask whether Tocsin is up ({"status": "ok"}); the details (database, the worker's last
tick, overdue escalations) are for staff: any valid API token."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import func, select, text

from .auth.access import api_auth
from .clock import isoformat, utcnow
from .escalation.service import overdue_count
from .extensions import db
from .heartbeat import WorkerHeartbeat

logger = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        last_tick = db.session.scalar(select(func.max(WorkerHeartbeat.last_tick_at)))
    except Exception:  # any database failure is "error", never a 500
        logger.exception("health check: database unreachable")
        db.session.rollback()
        return jsonify({"status": "error"}), 503
    if "Authorization" not in request.headers:
        return jsonify({"status": "ok"})
    return _details(last_tick)   # a wrong token is a 401, as on the API


@api_auth("viewer")
def _details(last_tick):
    tick = current_app.config["SCHEDULER_TICK_SECONDS"]
    stale = last_tick is None or (utcnow() - last_tick).total_seconds() > max(30.0, 10 * tick)
    overdue = overdue_count(seconds=max(5 * tick, 5.0))
    return jsonify({"status": "ok", "database": "ok",
                    "worker": {"last_tick_at": isoformat(last_tick), "stale": stale},
                    "watchdog": {"overdue_escalations": overdue}})
