"""Keeping promises: every update tells customers when the next one comes. Ten minutes before
that time, if nothing is scheduled, the communications role (else the commander) is reminded,
once per promise, on Slack or by email, and the timeline says so.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..auth.models import User
from ..clock import utcnow
from ..extensions import db
from ..incidents.models import Incident
from ..incidents.policy import OPEN_STATUSES
from ..incidents.timeline import record
from ..outbox.models import Delivery
from ..roles.service import holders_by_incident
from ..vocabulary import BroadcastStatus, Channel, DeliveryStatus, SendStatus
from .models import Broadcast, BroadcastSend

logger = logging.getLogger(__name__)
REMINDER_LEAD = timedelta(minutes=10)


def promises(now: datetime) -> list[tuple[int, int, datetime]]:
    """(incident id, send id, promised time) of each open incident's latest sent update that made a promise,
    where nothing is scheduled to keep it."""
    promise = func.coalesce(Broadcast.repeat_every_minutes, Broadcast.next_update_minutes)
    rows = db.session.execute(
        select(Broadcast.incident_id, BroadcastSend.id, BroadcastSend.due_at, promise)
        .join(BroadcastSend, BroadcastSend.broadcast_id == Broadcast.id)
        .join(Incident, Incident.id == Broadcast.incident_id)
        .where(Incident.status.in_(OPEN_STATUSES), BroadcastSend.status == SendStatus.QUEUED, promise.is_not(None))
        .order_by(Broadcast.incident_id, BroadcastSend.due_at.desc(), BroadcastSend.id.desc())).all()
    latest: dict[int, tuple[int, datetime]] = {}
    for incident_id, send_id, due_at, minutes in rows:
        latest.setdefault(incident_id, (send_id, due_at + timedelta(minutes=minutes)))
    if not latest:
        return []
    scheduled = set(db.session.scalars(
        select(Broadcast.incident_id).join(BroadcastSend, BroadcastSend.broadcast_id == Broadcast.id)
        .where(Broadcast.incident_id.in_(list(latest)), BroadcastSend.status == "scheduled",
               Broadcast.status != BroadcastStatus.CANCELLED)))
    return [(incident_id, send_id, promised) for incident_id, (send_id, promised) in latest.items()
            if incident_id not in scheduled and promised - REMINDER_LEAD <= now]


def remind_due() -> int:
    """Queue the reminders that are due; returns how many were queued."""
    now = utcnow()
    due = promises(now)
    holders = holders_by_incident([incident_id for incident_id, _, _ in due])
    queued = 0
    for incident_id, send_id, promised in due:
        key = f"remind:{send_id}"
        if db.session.scalar(select(Delivery.id).where(Delivery.dedupe_key == key)) is not None:
            continue
        who = holders[incident_id].get("communications") or holders[incident_id].get("commander")
        user = db.session.scalar(select(User).where(User.email == who)) if who else None
        incident = db.session.get_one(Incident, incident_id)
        url = f"{current_app.config['PUBLIC_BASE_URL']}/incidents/{incident_id}"
        text = (f"{incident.reference}: customers were promised the next update at {promised:%H:%M} UTC "
                f"and none is scheduled. Schedule it: {url}")
        if user is not None:
            channel, recipient = (Channel.SLACK, user.slack_id) if user.slack_id else (Channel.EMAIL, user.email)
            db.session.add(Delivery(purpose="reminder", dedupe_key=key, incident_id=incident_id, user_id=user.id,
                                    channel=channel, recipient=recipient, subject=f"{incident.reference}: update due",
                                    text=text, status=DeliveryStatus.QUEUED, next_attempt_at=now, created_at=now,
                                    updated_at=now))
        else:  # nobody to tell: the timeline is the reminder, and the key keeps it to one
            db.session.add(Delivery(purpose="reminder", dedupe_key=key, incident_id=incident_id, channel=Channel.EMAIL,
                                    recipient="", text=text, status=DeliveryStatus.SKIPPED,
                                    error="no communications or commander", next_attempt_at=now, created_at=now,
                                    updated_at=now))
        record(incident, "update_due", "worker", {"promised_at": promised.isoformat(), "reminded": who})
        try:
            db.session.commit()
        except IntegrityError:  # another worker reminded first
            db.session.rollback()
            continue
        logger.info("%s: reminded %s of the update promised for %s", incident.reference, who, promised)
        queued += 1
    return queued
