"""Incident use cases: declare, edit, post status updates and notes, read them back."""
from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..auth.models import User
from ..auth.service import get_user_by_email, get_user_by_email_or_raise
from ..catalog import ensure_services
from ..clock import utcnow
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..uow import unit_of_work, use_case
from ..vocabulary import IncidentStatus, Mode
from . import slack_rooms
from .models import Incident, IncidentMember, IncidentUpdate, TimelineEvent
from .policy import OPEN_STATUSES, TransitionRefused, check_transition, notifies_subscribers
from .signals import incident_changed, incident_resolved, subscribers_to_notify
from .timeline import record
from .visibility import add_members, visible

logger = logging.getLogger(__name__)


def open_incident(actor: User | str, *, title: str, severity: str, summary: str = "",
                  services: list[str] | tuple[str, ...] = (), mode: str = Mode.TIERED, private: bool = False) -> Incident:
    """The incident row and its `declared` event (flush, no commit): `flows.declare_incident`
    staffs it and opens its room in the same unit of work. A system actor (an alert rule) is its label."""
    now = utcnow()
    incident = Incident(title=title, severity=severity, summary=summary, mode=mode,
                        status=IncidentStatus.INVESTIGATING, declared_at=now, updated_at=now,
                        declared_by_id=actor.id if isinstance(actor, User) else None, private=private)
    incident.services = ensure_services(list(services))
    db.session.add(incident)
    db.session.flush()
    add_members(incident.id, [actor] if isinstance(actor, User) else [], "declared")
    record(incident, "declared", actor, {"title": title, "severity": severity, "mode": mode,
                                         "services": [s.name for s in incident.services],
                                         **({"private": True} if private else {})})
    return incident


def edit_incident(actor: User, incident_id: int, changes: dict) -> Incident:
    """Change title, severity, summary or services; the timeline gets what changed."""
    with unit_of_work():
        return _edit(actor, Incident.get_or_raise(incident_id), changes)


def _edit(actor: User, incident: Incident, changes: dict) -> Incident:
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
    if "private" in changes and changes["private"] != incident.private:
        make_private(actor, incident, changes["private"])
    if diff:
        incident.updated_at = utcnow()
        if "severity" in diff:
            record(incident, "severity_changed", actor, {"from": diff["severity"][0], "to": diff["severity"][1]})
        record(incident, "updated", actor, {"changes": diff})
        if diff.keys() & {"title", "severity", "services"}:
            incident_changed.send(incident.id)
    return incident


def make_private(actor: User | None, incident: Incident, private: bool = True, *, reason: str = "") -> bool:
    """Make the incident private (only members and admins see it; it leaves the status page) or public
    again (a lead's deliberate choice: its public updates reach the page again). No commit; False if it
    already was."""
    if incident.private == private:
        return False
    incident.private, incident.updated_at = private, utcnow()
    record(incident, "made_private" if private else "made_public", actor, {"reason": reason} if reason else {})
    db.session.flush()
    incident_changed.send(incident.id)   # withdrawn from (or back on) the status page
    logger.info("%s made %s by %s", incident.reference, "private" if private else "public",
                actor.email if actor else "Tocsin")
    return True


def list_members(incident_id) -> list[IncidentMember]:
    """Who may see the incident when it is private, in the order they joined."""
    incident = Incident.get_or_raise(incident_id)
    return list(db.session.scalars(select(IncidentMember).options(selectinload(IncidentMember.user))
                                   .where(IncidentMember.incident_id == incident.id)
                                   .order_by(IncidentMember.added_at, IncidentMember.user_id)))


@use_case
def add_member(actor: User, incident_id, email: str) -> bool:
    """Let a staff member see the incident (a lead who may see it adds them); False if they could already."""
    incident = Incident.get_or_raise(incident_id)
    user = get_user_by_email_or_raise(email)
    if db.session.get(IncidentMember, (incident.id, user.id)) is not None:
        return False
    add_members(incident.id, [user], "added", by=actor)
    record(incident, "member_added", actor, {"user": user.email})
    return True


@use_case
def remove_member(actor: User, incident_id, email: str) -> None:
    """Take a staff member off the incident's members (admins see it anyway)."""
    incident = Incident.get_or_raise(incident_id)
    user = get_user_by_email(email)
    member = db.session.get(IncidentMember, (incident.id, user.id)) if user else None
    if member is None:
        raise NotFound(f"{email} is not a member of {incident.reference}.", code="member_not_found")
    db.session.delete(member)
    record(incident, "member_removed", actor, {"user": email})


def post_update(actor: User, incident_id: int, *, status: str | None, message: str,
                public: bool = True, notify_subscribers: bool | None = None) -> IncidentUpdate:
    """Post a status update, moving the status along (or reopening); it goes on the timeline. A public
    one reaches the subscribers of what it affects when `notify_subscribers` (None: SEV1 and SEV2 do)."""
    with unit_of_work():
        update = _post_update(actor, Incident.get_or_raise(incident_id), status=status, message=message,
                              public=public, notify_subscribers=notify_subscribers)
    return update


def _post_update(actor: User, incident: Incident, *, status: str | None, message: str,
                 public: bool, notify_subscribers: bool | None = None) -> IncidentUpdate:
    new = status or incident.status
    try:
        how = check_transition(incident.status, new)
    except TransitionRefused as error:
        raise ValidationFailed(str(error), code="invalid_transition",
                               details={"status": str(error), "current": incident.status}) from None
    now = utcnow()
    old = incident.status
    notify = notifies_subscribers(incident.severity, public, notify_subscribers)
    if how != "same":
        incident.status = new
        record(incident, "status_changed", actor,
               {"from": old, "to": new, "message": message, "public": public, "notify_subscribers": notify,
                "reopened": how == "reopened"})
        if how == IncidentStatus.RESOLVED:
            incident.resolved_at = now
            incident_resolved.send(incident, actor=actor)
        elif how == "reopened":
            incident.resolved_at = None
    else:
        record(incident, "update_posted", actor, {"status": new, "message": message, "public": public,
                                                  "notify_subscribers": notify})
    update = IncidentUpdate(incident_id=incident.id, status=new, message=message, public=public,
                            notify_subscribers=notify, created_at=now, author_id=actor.id)
    db.session.add(update)
    incident.updated_at = now
    db.session.flush()
    if notify:
        subscribers_to_notify.send(update, incident=incident, previous_status=old)
    if public or how != "same":
        incident_changed.send(incident.id)
    slack_rooms.post_to_room(incident, f"update:{update.id}", f"*{incident.reference} is {new}*"
                             + (f" — {message}" if message else "") + f" ({actor.email})")
    logger.info("%s: %s -> %s by %s", incident.reference, old, new, actor.email)
    return update


def add_note(actor: User, incident_id: int, text: str, *, source: dict | None = None) -> TimelineEvent:
    """A note on the timeline (the scribe's pen); `source` says where it came from (a pinned Slack message)."""
    with unit_of_work():
        event = record(Incident.get_or_raise(incident_id), "note", actor, {"text": text, **(source or {})})
    return event


def list_incidents(*, status: str = "all", page: int = 1, per_page: int = 50) -> tuple[list[Incident], int]:
    """Incidents the asking staff member may see, newest first, filtered by open/resolved/all, with the total."""
    query = select(Incident).where(visible())
    if status == "open":
        query = query.where(Incident.status.in_(OPEN_STATUSES))
    elif status == IncidentStatus.RESOLVED:
        query = query.where(Incident.status == IncidentStatus.RESOLVED)
    elif status != "all":
        raise ValidationFailed("status must be open, resolved or all.", details={"status": status})
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
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
    total = db.session.scalar(select(func.count()).select_from(TimelineEvent).where(where)) or 0
    order = (TimelineEvent.at.desc(), TimelineEvent.id.desc()) if newest_first else (TimelineEvent.at, TimelineEvent.id)
    rows = db.session.scalars(select(TimelineEvent).where(where).order_by(*order)
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), total
