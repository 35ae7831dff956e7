"""Follow-up reminders, through the outbox, to the person's own channel (Slack if they have a Slack
id, else email): the commander when a review is still a draft REVIEW_REMINDER_DAYS after the
incident was resolved; an action item's owner the day before it is due and on the day.

Each reminder is queued once: its outbox row's unique key says what it is about — the review; the
item with its owner and due day (so a new owner, or a new due day, is a new promise and is
reminded again). Days are UTC days. Nothing is sent from here: the dispatcher sends the rows.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..auth.models import User
from ..broadcast.wording import slack_escape, slack_link
from ..clock import utcnow
from ..extensions import db
from ..incidents.models import Incident
from ..incidents.timeline import record
from ..outbox.models import Delivery
from ..roles.service import holders_by_incident
from ..vocabulary import ActionItemState, Channel, DeliveryStatus, IncidentStatus, ReviewStatus
from . import policy
from .models import ActionItem, Review

logger = logging.getLogger(__name__)
PURPOSE = "reminder"


def review_key(review: Review) -> str:
    return f"review-draft:{review.id}"


def item_key(item: ActionItem, which: str) -> str:
    return f"action-item:{item.id}:{item.owner_id}:{item.due_on.isoformat()}:{which}"


def remind_due() -> int:
    """Queue every reminder that is due and not queued before; returns how many were queued."""
    return _remind_reviews() + _remind_items()


def _remind_reviews() -> int:
    now = utcnow()
    days = current_app.config["REVIEW_REMINDER_DAYS"]
    rows = db.session.execute(
        select(Review, Incident).join(Incident, Incident.id == Review.incident_id)
        .where(Review.status == ReviewStatus.DRAFT, Incident.status == IncidentStatus.RESOLVED,
               Incident.resolved_at <= now - timedelta(days=days))).tuples().all()
    due = [(review, incident) for review, incident in rows
           if policy.review_reminder_due(review.status, incident.resolved_at, now, days)]
    done = _already({review_key(review) for review, _ in due})
    due = [(review, incident) for review, incident in due if review_key(review) not in done]
    commanders = holders_by_incident([incident.id for _, incident in due])
    queued = 0
    for review, incident in due:
        who = commanders[incident.id].get("commander")
        user = db.session.scalar(select(User).where(User.email == who)) if who else None
        url = f"{current_app.config['PUBLIC_BASE_URL']}/incidents/{incident.id}/review"
        since = _ago(now - (incident.resolved_at or now))
        esc, link = _writing(user)
        text = (f"{incident.reference} ({esc(incident.title)}) was resolved {since} ago and its review is still a "
                f"draft. Write it up: {link(url)}")
        _queue(review_key(review), user, incident, f"{incident.reference}: the review is still a draft", text,
               why="no commander")
        record(incident, "review_reminded", "worker", {"to": who})
        queued += _commit(f"{incident.reference}: reminded {who} of the draft review")
    return queued


def _remind_items() -> int:
    today = utcnow().date()
    items = db.session.scalars(
        select(ActionItem).options(selectinload(ActionItem.owner))
        .where(ActionItem.state == ActionItemState.OPEN, ActionItem.due_on.in_([today, today + timedelta(days=1)]))
        .order_by(ActionItem.id)).all()
    owed = [(item, which) for item in items
            if (which := policy.item_reminder(item.state, item.due_on, today)) is not None]
    done = _already({item_key(item, which) for item, which in owed})
    queued = 0
    for item, which in owed:
        key = item_key(item, which)
        if key in done:
            continue
        incident = db.session.get_one(Incident, item.incident_id)
        url = f"{current_app.config['PUBLIC_BASE_URL']}/action-items/mine"
        when = "tomorrow" if which == "eve" else "today"
        owner = item.owner if item.owner.active else None
        esc, link = _writing(owner)
        text = (f"Action item from {incident.reference} due {when} ({item.due_on.isoformat()}): {esc(item.title)}. "
                f"Mark it done or move it: {link(url)}")
        _queue(key, owner, incident, f"{incident.reference}: action item due {when}", text,
               why="owner no longer active")
        queued += _commit(f"{incident.reference}: reminded {item.owner.email} of action item {item.id} ({which})")
    return queued


def _already(keys: set[str]) -> set[str]:
    if not keys:
        return set()
    return set(db.session.scalars(select(Delivery.dedupe_key).where(Delivery.dedupe_key.in_(keys))))


def _writing(user: User | None) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """How text and links are written for the person's channel: Slack mrkdwn escaped, email as it is."""
    if user is not None and user.slack_id:
        return slack_escape, slack_link
    return str, str


def _queue(key: str, user: User | None, incident: Incident, subject: str, text: str, *, why: str) -> None:
    """One outbox row to the person's channel; with nobody to tell, a skipped row keeps the reminder to one."""
    now = utcnow()
    row = Delivery(purpose=PURPOSE, dedupe_key=key, incident_id=incident.id, subject=subject, text=text,
                   next_attempt_at=now, created_at=now, updated_at=now)
    if user is not None:
        row.user_id = user.id
        row.channel, row.recipient = (Channel.SLACK, user.slack_id) if user.slack_id else (Channel.EMAIL, user.email)
        row.status = DeliveryStatus.QUEUED
    else:
        row.channel, row.recipient, row.status, row.error = Channel.EMAIL, "", DeliveryStatus.SKIPPED, why
    db.session.add(row)


def _commit(what: str) -> int:
    """Commit one reminder; 0 when another worker queued it first."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return 0
    logger.info(what)
    return 1


def _ago(delta: timedelta) -> str:
    days = delta.days
    return f"{days} day{'s' if days != 1 else ''}" if days else f"{int(delta.total_seconds() // 3600)} h"
