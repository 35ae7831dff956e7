"""Possible outages: the worker's flood detector, what the dashboard shows, and declaring from it."""
from __future__ import annotations

import logging

from flask import Flask, current_app
from sqlalchemy import delete, select

from ..clock import utcnow
from ..extensions import db
from .flood import FloodSettings, detect_floods
from .models import FloodSignal, Ticket
from .policy import TicketFilter

logger = logging.getLogger(__name__)


def settings() -> FloodSettings:
    return FloodSettings.from_mapping(current_app.config)


def refresh_flood_signals(app: Flask) -> int:
    """Worker job: look at recent unlinked tickets and replace the stored signals; returns how many."""
    with app.app_context():
        try:
            now, config = utcnow(), settings()
            rows = db.session.execute(
                select(Ticket.created_at, Ticket.tags, Ticket.services)
                .where(Ticket.created_at >= config.since(now), Ticket.incident_id.is_(None))
                .execution_options(yield_per=5_000))
            found = detect_floods(((at, tags.split(), services.split()) for at, tags, services in rows),
                                  now=now, settings=config)
            db.session.execute(delete(FloodSignal))
            for s in found[:20]:
                db.session.add(FloodSignal(kind=s.kind, key=s.key, recent=s.recent, baseline=s.baseline,
                                           ratio=s.ratio, window_start=s.window_start, first_at=s.first_at,
                                           last_at=s.last_at, detected_at=now))
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        if found:
            logger.warning("possible outage: %s", ", ".join(f"{s.kind} {s.key} x{s.ratio:.0f}" for s in found[:5]))
        return len(found)


def current_signals() -> list[FloodSignal]:
    """The possible outages the detector last saw, strongest first."""
    return list(db.session.scalars(select(FloodSignal).order_by(FloodSignal.ratio.desc(), FloodSignal.recent.desc())))


def signal_filter(signal: FloodSignal) -> TicketFilter:
    """The tickets behind a signal: its tag or service, unlinked, since its window opened."""
    key = (signal.key,)
    return TicketFilter(tags=key if signal.kind == "tag" else (), services=key if signal.kind == "service" else (),
                        since=signal.window_start, unlinked_only=True)
