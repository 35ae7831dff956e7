"""Paging by phone call: the page a Twilio voice request is about, and how a call's end moves it on.

A call is an outbox row (purpose `page`, channel `voice`) whose URLs carry its id. When the call
goes unanswered — busy, no answer, failed, cancelled, or answered and hung up without pressing 1 —
the level's channels after `voice`, held back for this person when the page was queued, are sent
at once instead of waiting for their fallback time.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from ..auth.models import User
from ..clock import utcnow
from ..extensions import db
from ..incidents.models import Incident
from ..incidents.timeline import record
from ..outbox.models import Delivery
from ..uow import use_case
from ..vocabulary import DeliveryStatus, PageChannel
from . import call_script
from .models import EscalationStep, IncidentEscalation
from .service import LOCALE

ENDED = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})   # Twilio's final CallStatus values


@dataclass(frozen=True)
class CallPage:
    """What answering a paging call needs: what to say, in which language, and whether it is still open."""

    page_id: int
    incident_id: int
    reference: str
    text: str
    locale: str
    state: str                # open | settled (acknowledged) | resolved
    user: User | None


def _call_row(page_id: int) -> Delivery | None:
    row = db.session.get(Delivery, page_id)
    if row is None or row.purpose != "page" or row.channel != PageChannel.VOICE or row.incident_id is None:
        return None
    return row


def get_call_page(page_id: int) -> CallPage | None:
    """The page a call is about; None when there is no such call (or its incident is gone)."""
    row = _call_row(page_id)
    incident = db.session.get(Incident, row.incident_id) if row is not None else None
    if row is None or incident is None:
        return None
    esc = db.session.get(IncidentEscalation, incident.id)
    state = ("resolved" if not incident.is_open else
             "settled" if esc is not None and esc.state == "acknowledged" else "open")
    locale = call_script.call_locale((row.headers or {}).get(LOCALE))
    user = db.session.get(User, row.user_id) if row.user_id is not None else None
    return CallPage(row.id, incident.id, incident.reference, row.text, locale, state, user)


@use_case
def record_call_end(page_id: int, *, status: str, duration: int | None = None,
                    error_code: str | None = None) -> list[str] | None:
    """A call ended: note it on the row and the timeline and, unless the incident is acknowledged,
    send the level's next channels to this person now. The channels sent on; None when nothing applies."""
    row = _call_row(page_id)
    incident = db.session.get(Incident, row.incident_id) if row is not None else None
    if row is None or incident is None or status not in ENDED:
        return None
    now = utcnow()
    if row.status == DeliveryStatus.SENT:   # while still 'sending', the dispatcher records the send first
        answered = status == "completed"
        row.status = DeliveryStatus.DELIVERED if answered else DeliveryStatus.FAILED
        row.error = None if answered else f"{status} ({error_code})" if error_code else status
        row.updated_at = now
    esc = db.session.get(IncidentEscalation, incident.id)
    acknowledged = (esc.state == "acknowledged") if esc is not None else incident.acknowledged_at is not None
    step = db.session.get(EscalationStep, row.step_id) if row.step_id is not None else None
    moved = [] if acknowledged or not incident.is_open else _bring_forward(row, now)
    order = list(step.channels) if step else []
    moved.sort(key=lambda channel: order.index(channel) if channel in order else len(order))
    user = db.session.get(User, row.user_id) if row.user_id is not None else None
    record(incident, "call_ended", None, {
        "level": step.level_name if step else None, "to": user.email if user else None, "outcome": status,
        "duration_seconds": duration, "acknowledged": acknowledged, "next_channels": moved})
    return moved


def _bring_forward(call: Delivery, now) -> list[str]:
    """The call's held-back channels (same step, same person) become due now; their names."""
    held = [Delivery.step_id == call.step_id, Delivery.user_id == call.user_id, Delivery.purpose == "page",
            Delivery.channel != PageChannel.VOICE, Delivery.status == DeliveryStatus.QUEUED,
            Delivery.next_attempt_at > now]
    if call.step_id is None or call.user_id is None:
        return []
    channels = list(set(db.session.scalars(select(Delivery.channel).where(*held))))
    if channels:
        db.session.execute(update(Delivery).where(*held).values(next_attempt_at=now, updated_at=now)
                           .execution_options(synchronize_session=False))
    return channels
