"""Subscribers hear about public updates: everyone who follows what an incident affects — the
status page subscribers of its components and the customers subscribed to its services — gets
one message per update, in their language, through the outbox.

Exactly once per person per update: one outbox row per customer, keyed by update and customer,
however many of the affected components they follow. Email always; SMS only at milestones (the
first public update, the resolution, a reopening), as with maintenance notices — a subscriber who
can only be reached by SMS is skipped on the other updates, with that reason. Every message
links to the subscriber's own page (change components, or leave); every email also carries a
one-click List-Unsubscribe and says its language in Content-Language.
"""
from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from .. import locales
from ..customers.links import manage_url, unsubscribe_url
from ..customers.models import Customer, customer_services
from ..dbutil import insert_ignoring_conflicts
from ..extensions import db
from ..incidents.models import Incident, IncidentUpdate
from ..incidents.signals import subscribers_to_notify
from ..outbox.models import Delivery
from ..vocabulary import DeliveryStatus
from . import policy
from .models import StatusComponent, StatusIncidentComponent

logger = logging.getLogger(__name__)
PURPOSE = "status_update"
SUBJECT_MAX = 300


def affected(incident: Incident) -> tuple[list[StatusComponent], set[int]]:
    """The page's components the incident touches (its services', and any staff marked), and the
    services whose followers hear about it."""
    service_ids = {s.id for s in incident.services}
    marked = set(db.session.scalars(select(StatusIncidentComponent.component_id).where(
        StatusIncidentComponent.incident_id == incident.id, StatusIncidentComponent.status != "operational")))
    components = [c for c in db.session.scalars(select(StatusComponent).where(StatusComponent.is_group.is_(False))
                                                .order_by(StatusComponent.position, StatusComponent.id))
                  if c.service_id in service_ids or c.id in marked]
    return components, service_ids | {c.service_id for c in components if c.service_id}


def email_headers(customer_id: int, language: str) -> dict:
    """What every status email to a subscriber carries: its language and the one-click unsubscribe."""
    return {"Content-Language": language, "List-Unsubscribe": f"<{unsubscribe_url(customer_id, 'email')}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def _words(update: IncidentUpdate, incident: Incident, names: list[str], tag: str, *, first: bool,
           previous: str) -> dict:
    """Subject and texts of one language (the update's words stay as staff wrote them)."""
    status = locales.t(tag, f"incident.{update.status}")
    if update.status == "resolved":
        intro = "update.resolved"
    elif first or previous == "resolved":
        intro = "update.new"
    else:
        intro = "update.update"
    components = locales.join_list(names, tag)
    link = current_app.config["PUBLIC_BASE_URL"] + "/status"
    body = [locales.t(tag, intro, components=components), update.message.strip(),
            locales.t(tag, "update.status", status=status), locales.t(tag, "update.follow", link=link),
            locales.t(tag, "update.sign")]
    return {"subject": locales.t(tag, "update.subject", status=status, title=incident.title,
                                 reference=incident.reference)[:SUBJECT_MAX],
            "email": "\n\n".join(part for part in body if part),
            "sms": locales.t(tag, "update.sms", page=current_app.config["STATUS_PAGE_NAME"],
                             reference=incident.reference, status=status, title=incident.title, link=link)}


def _row(update: IncidentUpdate, customer, channel: str | None, why: str, words: dict, language: str,
         now: datetime) -> dict:
    """The customer's outbox row for this update: queued on `channel`, or skipped (channel None) with `why`."""
    shown = channel or next((c for c in customer.channels or [] if c in policy.SUBSCRIBER_CHANNELS), "email")
    row = {"purpose": PURPOSE, "dedupe_key": f"status-update:{update.id}:customer:{customer.id}",
           "incident_id": update.incident_id, "customer_id": customer.id, "channel": shown,
           "recipient": customer.address(shown) or "", "subject": "", "text": "", "headers": None,
           "status": DeliveryStatus.SKIPPED, "error": why or None, "attempts": 0, "next_attempt_at": now,
           "created_at": now, "updated_at": now, "sandbox": False}
    if channel is None:
        return row
    manage = locales.t(language, "footer.manage", link=manage_url(customer.id, channel))
    if channel == "email":
        return {**row, "status": DeliveryStatus.QUEUED, "subject": words["subject"],
                "text": f"{words['email']}\n\n--\n{manage}", "headers": email_headers(customer.id, language)}
    return {**row, "status": DeliveryStatus.QUEUED, "text": f"{words['sms']} {manage}"}


def queue_update_notices(update: IncidentUpdate, incident: Incident, previous_status: str) -> int:
    """One outbox row per follower of what the update's incident affects (no commit); how many were queued."""
    if incident.private:   # a private incident is off the page: its followers hear nothing
        return 0
    components, service_ids = affected(incident)
    if not service_ids:
        return 0
    public = db.session.scalar(select(func.count()).select_from(IncidentUpdate).where(
        IncidentUpdate.incident_id == incident.id, IncidentUpdate.public.is_(True)))
    first = public == 1
    sms_allowed = policy.is_milestone(first_public=first, status=update.status, previous_status=previous_status)
    followers = db.session.scalars(select(Customer).where(Customer.id.in_(
        select(customer_services.c.customer_id).where(customer_services.c.service_id.in_(service_ids))))
        .order_by(Customer.id))
    names = [c.name for c in components] or sorted(s.name for s in incident.services)
    now = update.created_at
    words: dict[str, dict] = {}
    rows = []
    for customer in followers:
        language = locales.language_for(customer.locale)
        if language not in words:
            words[language] = _words(update, incident, names, language, first=first, previous=previous_status)
        channel, why = policy.subscriber_channel(customer.channels, customer.opted_out,
                                                 {"email": customer.email, "sms": customer.phone},
                                                 sms_allowed=sms_allowed)
        rows.append(_row(update, customer, channel, why, words[language], language, now))
    for start in range(0, len(rows), 1000):
        db.session.execute(insert_ignoring_conflicts(Delivery, ["dedupe_key"]), rows[start:start + 1000])
    queued = sum(1 for row in rows if row["status"] == DeliveryStatus.QUEUED)
    logger.info("%s: update %s queued to %s subscribers, %s skipped", incident.reference, update.id, queued,
                len(rows) - queued)
    return queued


@subscribers_to_notify.connect
def _on_public_update(update: IncidentUpdate, *, incident: Incident, previous_status: str, **_) -> None:
    queue_update_notices(update, incident, previous_status)
