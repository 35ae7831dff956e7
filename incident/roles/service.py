"""Crisis-role use cases: assign or hand over, relieve, read the terms; runbook checklists."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..auth.models import User
from ..auth.service import get_user_by_email_or_raise
from ..clock import utcnow
from ..errors import Conflict, NotAllowed, NotFound, ValidationFailed
from ..extensions import db
from ..incidents import slack_rooms
from ..incidents.models import Incident
from ..incidents.timeline import record
from ..incidents.visibility import add_members
from ..uow import use_case
from . import runbooks as rb
from . import slack_checklist
from .models import ChecklistTick, RoleAssignment
from .policy import ROLES, is_multi_holder, missing_roles

logger = logging.getLogger(__name__)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationFailed(f"Unknown crisis role {role!r}.", code="unknown_role",
                               details={"role": f"one of {', '.join(ROLES)}"})


def current_assignments(incident_id: int) -> list[RoleAssignment]:
    """The terms still running on an incident, oldest first."""
    return list(db.session.scalars(
        select(RoleAssignment).options(selectinload(RoleAssignment.user))
        .where(RoleAssignment.incident_id == incident_id, RoleAssignment.relieved_at.is_(None))
        .order_by(RoleAssignment.assigned_at, RoleAssignment.id)))


def holders_by_incident(incident_ids: list[int]) -> dict[int, dict]:
    """{incident id: {"commander": email, "subject_matter_expert": [emails], ...}} in one query."""
    result: dict[int, dict] = {incident_id: {} for incident_id in incident_ids}
    if not incident_ids:
        return result
    rows = db.session.execute(
        select(RoleAssignment.incident_id, RoleAssignment.role, User.email)
        .join(User, User.id == RoleAssignment.user_id)
        .where(RoleAssignment.incident_id.in_(incident_ids), RoleAssignment.relieved_at.is_(None))
        .order_by(RoleAssignment.assigned_at, RoleAssignment.id))
    for incident_id, role, email in rows:
        if is_multi_holder(role):
            result[incident_id].setdefault(role, []).append(email)
        else:
            result[incident_id][role] = email
    return result


def missing_required(incident: Incident, holders: dict) -> list[str]:
    """Required roles for the incident's severity that nobody holds."""
    return missing_roles(incident.severity, set(holders))


def _relieve(term: RoleAssignment, actor: User | None, incident: Incident, reason: str) -> None:
    term.relieved_at = utcnow()
    term.relieved_by_id = actor.id if actor else None
    record(incident, "role_relieved", actor, {"role": term.role, "user": term.user.email, "reason": reason})


def add_role_term(incident: Incident, role: str, user: User, actor: User | None) -> RoleAssignment | None:
    """Give `user` the role (handing a single-holder role over); None if they hold it already. No commit."""
    terms = [t for t in current_assignments(incident.id) if t.role == role]
    if any(t.user_id == user.id for t in terms):
        return None
    previous = None
    if not is_multi_holder(role) and terms:
        previous = terms[0].user.email
        _relieve(terms[0], actor, incident, f"handed over to {user.email}")
        db.session.flush()  # the old term ends before the new one starts (unique index)
    term = RoleAssignment(incident_id=incident.id, role=role, user_id=user.id, assigned_at=utcnow(),
                          assigned_by_id=actor.id if actor else None)
    db.session.add(term)
    db.session.flush()
    add_members(incident.id, [user], "role", by=actor)
    record(incident, "role_assigned", actor, {"role": role, "user": user.email, "previous": previous})
    slack_rooms.invite_to_room(incident, f"{incident.id}:{term.id}", user.slack_id)
    if user.slack_id:
        slack_checklist.queue_checklists(incident, f"{incident.id}:{term.id}", user, checklists(incident, [role])[0])
    return term


ROLE_CHANGED = ("Someone changed this role at the same moment; reload and try again.", "role_changed")


@use_case(conflict=ROLE_CHANGED)
def assign_role(actor: User, incident_id: int, role: str, *, user_email: str) -> bool:
    """Assign a crisis role or hand it over; False when the user already held it."""
    _check_role(role)
    incident = Incident.get_or_raise(incident_id)
    user = get_user_by_email_or_raise(user_email)
    term = add_role_term(incident, role, user, actor)
    if term is None:
        return False
    incident.updated_at = utcnow()
    logger.info("%s: %s is now %s", incident.reference, user.email, role)
    return True


@use_case(conflict=ROLE_CHANGED)
def relieve_role(actor: User, incident_id: int, role: str, *, user_email: str | None = None) -> int:
    """Relieve the holder (or the named holder) of a role; the commander can only be handed over."""
    _check_role(role)
    incident = Incident.get_or_raise(incident_id)
    if role == "commander":
        raise Conflict("An incident always has a commander: hand the role over instead.",
                       code="commander_required")
    terms = [t for t in current_assignments(incident.id) if t.role == role]
    if user_email:
        user = get_user_by_email_or_raise(user_email)
        terms = [t for t in terms if t.user_id == user.id]
    if not terms:
        raise NotFound(f"Nobody holds {role} on {incident.reference}" + (f" as {user_email}." if user_email else "."),
                       code="role_not_held")
    for term in terms:
        _relieve(term, actor, incident, "relieved")
    incident.updated_at = utcnow()
    return len(terms)


def role_history(incident_id: int) -> list[RoleAssignment]:
    """Every term ever held on the incident, oldest first."""
    Incident.get_or_raise(incident_id)
    return list(db.session.scalars(
        select(RoleAssignment)
        .options(selectinload(RoleAssignment.user), selectinload(RoleAssignment.assigned_by),
                 selectinload(RoleAssignment.relieved_by))
        .where(RoleAssignment.incident_id == incident_id)
        .order_by(RoleAssignment.assigned_at, RoleAssignment.id)))


def checklists(incident: Incident, roles: list[str]) -> list[dict]:
    """For each role, the runbooks that apply to this incident with each item's tick."""
    ticks = {(t.runbook, t.item_key): t for t in db.session.scalars(
        select(ChecklistTick).options(selectinload(ChecklistTick.ticked_by))
        .where(ChecklistTick.incident_id == incident.id))}
    services = {s.name for s in incident.services}
    result = []
    for role in roles:
        books = []
        for book in rb.runbooks_for(role=role, severity=incident.severity, services=services):
            sections: list[dict[str, Any]] = [{"title": s.title, "items": [
                {"key": i.key, "text": i.text, "checked": (book.slug, i.key) in ticks,
                 "by": (t.ticked_by.email if (t := ticks.get((book.slug, i.key))) and t.ticked_by else None)}
                for i in s.items]} for s in book.sections]
            done = sum(item["checked"] for s in sections for item in s["items"])
            books.append({"slug": book.slug, "title": book.title, "summary": book.summary,
                          "intro_html": book.intro_html, "sections": sections,
                          "done": done, "total": len(book.items)})
        result.append({"role": role, "label": ROLES[role], "runbooks": books})
    return result


def set_checklist_item(actor: User, incident_id: int, *, runbook: str, item: str, checked: bool) -> bool:
    """Tick or untick a runbook item on an incident; False when it was already so."""
    incident = Incident.get_or_raise(incident_id)
    found = rb.find_item(runbook, item)
    if found is None:
        raise NotFound(f"No item {item!r} in runbook {runbook!r}.", code="checklist_item_not_found")
    book, entry = found
    held = {t.role for t in current_assignments(incident.id) if t.user_id == actor.id}
    if not actor.can("lead") and not held.intersection(book.roles):
        raise NotAllowed("Only a holder of this runbook's roles, or a lead, can tick its items.")
    tick = db.session.scalar(select(ChecklistTick).where(
        ChecklistTick.incident_id == incident.id, ChecklistTick.runbook == runbook,
        ChecklistTick.item_key == item))
    if (tick is not None) == checked:
        return False
    if checked:
        db.session.add(ChecklistTick(incident_id=incident.id, runbook=runbook, item_key=item,
                                     item_text=entry.text, ticked_by_id=actor.id, ticked_at=utcnow()))
    else:
        db.session.delete(tick)
    record(incident, "checklist_item_checked" if checked else "checklist_item_unchecked", actor,
           {"runbook": runbook, "item": entry.text, "key": item})
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False  # ticked by someone else at the same moment: the outcome is the same
    return True
