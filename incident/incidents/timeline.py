"""Writing to an incident's timeline. Callers commit, so the event lands with the change."""
from __future__ import annotations

from ..auth.models import User
from ..clock import utcnow
from ..extensions import db
from .models import Incident, TimelineEvent
from .signals import timeline_recorded


def record(incident: Incident, kind: str, actor: User | str | None, data: dict | None = None) -> TimelineEvent:
    """Add a timeline event to the session (no commit)."""
    if isinstance(actor, User):
        actor_id, label = actor.id, actor.email
    else:
        actor_id, label = None, actor or "system"
    event = TimelineEvent(incident_id=incident.id, at=utcnow(), kind=kind, actor_id=actor_id,
                          actor=label, data=data or {})
    db.session.add(event)
    timeline_recorded.send(incident, kind=kind, actor=label, data=event.data)
    return event
