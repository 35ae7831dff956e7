"""Incident use cases: declare, edit, post status updates and notes, read them back."""
from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .auth.models import User
from .auth.service import get_user_by_email_or_raise
from .broadcast import slack_rooms
from .clock import utcnow
from .errors import Conflict, ValidationFailed
from .extensions import db
from .models import Incident, IncidentUpdate, Service, TimelineEvent
from .policy import OPEN_STATUSES, TransitionRefused, check_transition
from .roles.service import add_role_term
from .status import hooks as status_page
from .tickets.service import solve_linked
from .timeline import record

logger = logging.getLogger(__name__)


def ensure_services(names: list[str]) -> list[Service]:
    """The Service rows for these names, creating the missing ones (flush, no commit)."""
    names = sorted(set(names))
    if not names:
        return []
    existing = {s.name: s for s in db.session.scalars(select(Service).where(Service.name.in_(names)))}
    for name in names:
        if name not in existing:
            existing[name] = Service(name=name, created_at=utcnow())
            db.session.add(existing[name])
    db.session.flush()
    return [existing[name] for name in names]


def declare_incident(actor: User, *, title: str, severity: str, summary: str = "",
                     services: list[str] = (), mode: str = "tiered",
                     commander: str | None = None) -> Incident:
    """Declare an outage; the declarer (or the named commander) takes command."""
    commander_user = get_user_by_email_or_raise(commander) if commander else actor
    now = utcnow()
    incident = Incident(title=title, severity=severity, summary=summary, mode=mode,
                        status="investigating", declared_at=now, updated_at=now,
                        declared_by_id=actor.id)
    incident.services = ensure_services(list(services))
    db.session.add(incident)
    db.session.flush()
    record(incident, "declared", actor, {"title": title, "severity": severity, "mode": mode,
                                         "services": [s.name for s in incident.services]})
    add_role_term(incident, "commander", commander_user, actor)
    slack_rooms.open_room(incident, commander=commander_user.email,
                          invite=[commander_user.slack_id, actor.slack_id])
    _commit()
    logger.info("%s declared (%s) by %s", incident.reference, severity, actor.email)
    return incident


def edit_incident(actor: User, incident_id: int, changes: dict) -> Incident:
    """Change title, severity, summary or services; the timeline gets what changed."""
    incident = Incident.get_or_raise(incident_id)
    diff = {}
    for field in ("title", "severity", "summary", "solve_tickets_on_resolve"):
        if field in changes and changes[field] != getattr(incident, field):
            diff[field] = [getattr(incident, field), changes[field]]
            setattr(incident, field, changes[field])
    if "services" in changes:
        before = [s.name for s in incident.services]
        after = sorted(set(changes["services"]))
        if before != after:
            incident.services = ensure_services(after)
            diff["services"] = [before, after]
    if diff:
        incident.updated_at = utcnow()
        if "severity" in diff:
            record(incident, "severity_changed", actor, {"from": diff["severity"][0], "to": diff["severity"][1]})
        record(incident, "updated", actor, {"changes": diff})
        if diff.keys() & {"title", "severity", "services"}:
            status_page.incident_changed(incident.id)
        _commit()
    return incident


def post_update(actor: User, incident_id: int, *, status: str | None, message: str,
                public: bool = True) -> IncidentUpdate:
    """Post a status update, moving the status along (or reopening); it goes on the timeline."""
    incident = Incident.get_or_raise(incident_id)
    new = status or incident.status
    try:
        how = check_transition(incident.status, new)
    except TransitionRefused as error:
        raise ValidationFailed(str(error), code="invalid_transition",
                               details={"status": str(error), "current": incident.status}) from None
    now = utcnow()
    old = incident.status
    if how != "same":
        incident.status = new
        record(incident, "status_changed", actor,
               {"from": old, "to": new, "message": message, "public": public,
                "reopened": how == "reopened"})
        if how == "resolved":
            incident.resolved_at = now
            if incident.solve_tickets_on_resolve:
                solve_linked(incident, actor)
        elif how == "reopened":
            incident.resolved_at = None
    else:
        record(incident, "update_posted", actor, {"status": new, "message": message, "public": public})
    update = IncidentUpdate(incident_id=incident.id, status=new, message=message, public=public,
                            created_at=now, author_id=actor.id)
    db.session.add(update)
    incident.updated_at = now
    db.session.flush()
    if public or how != "same":
        status_page.incident_changed(incident.id)
    slack_rooms.post_to_room(incident, f"update:{update.id}", f"*{incident.reference} is {new}*"
                             + (f" — {message}" if message else "") + f" ({actor.email})")
    _commit()
    logger.info("%s: %s -> %s by %s", incident.reference, old, new, actor.email)
    return update


def add_note(actor: User, incident_id: int, text: str) -> TimelineEvent:
    """A note on the timeline (the scribe's pen)."""
    incident = Incident.get_or_raise(incident_id)
    event = record(incident, "note", actor, {"text": text})
    _commit()
    return event


def _commit() -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("A concurrent change got there first; try again.", code="conflict") from None


def list_incidents(*, status: str = "all", page: int = 1, per_page: int = 50) -> tuple[list[Incident], int]:
    """Incidents newest first, filtered by open/resolved/all, with the total."""
    query = select(Incident)
    if status == "open":
        query = query.where(Incident.status.in_(OPEN_STATUSES))
    elif status == "resolved":
        query = query.where(Incident.status == "resolved")
    elif status != "all":
        raise ValidationFailed("status must be open, resolved or all.", details={"status": status})
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.options(selectinload(Incident.services), selectinload(Incident.declared_by))
        .order_by(Incident.declared_at.desc(), Incident.id.desc())
        .limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), total


def list_updates(incident_id: int) -> list[IncidentUpdate]:
    """The incident's status updates, newest first."""
    return list(db.session.scalars(
        select(IncidentUpdate).options(selectinload(IncidentUpdate.author))
        .where(IncidentUpdate.incident_id == incident_id)
        .order_by(IncidentUpdate.created_at.desc(), IncidentUpdate.id.desc())))


def list_timeline(incident_id: int, *, page: int = 1, per_page: int = 50,
                  newest_first: bool = False) -> tuple[list[TimelineEvent], int]:
    """The incident's events, oldest first (or newest first), with the total."""
    Incident.get_or_raise(incident_id)
    where = TimelineEvent.incident_id == incident_id
    total = db.session.scalar(select(func.count()).select_from(TimelineEvent).where(where))
    order = (TimelineEvent.at.desc(), TimelineEvent.id.desc()) if newest_first else (TimelineEvent.at, TimelineEvent.id)
    rows = db.session.scalars(select(TimelineEvent).where(where).order_by(*order)
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), total
