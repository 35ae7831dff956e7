"""Known-issue use cases: record, change or remove an incident's entry, search the entries, and the
reads other features make (the public workaround, the flags on a page of tickets)."""
from __future__ import annotations

import logging

from sqlalchemy import ColumnElement, case, func, or_, select

from ..auth.models import User
from ..clock import utcnow
from ..dbutil import like_escape
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..incidents.models import Incident
from ..incidents.signals import incident_changed
from ..incidents.timeline import record
from ..incidents.visibility import public_incidents, visible
from ..tickets.policy import encode_words
from ..tickets.queries import contains
from ..uow import use_case
from ..vocabulary import IncidentStatus, KnownIssueState
from . import policy
from .models import KnownIssue, KnownIssueMatch
from .schemas import KnownIssueIn

logger = logging.getLogger(__name__)

STATES = ("all", *KnownIssueState)
MAX_QUERY = 200
FIELDS = ("workaround", "symptoms", "cause", "fix", "tags", "services", "match_phrases", "flag_tickets")


class KnownIssueNotFound(NotFound):
    def __init__(self, incident: Incident):
        super().__init__(f"{incident.reference} has no known-issue record.", code="known_issue_not_found")


def _values(incident: Incident, data: KnownIssueIn) -> dict:
    services = data.services if "services" in data.model_fields_set else [s.name for s in incident.services]
    return {"workaround": data.workaround, "symptoms": data.symptoms, "cause": data.cause, "fix": data.fix,
            "tags": encode_words(data.tags), "services": encode_words(services),
            "match_phrases": list(data.match_phrases), "flag_tickets": data.flag_tickets}


@use_case
def set_known_issue(actor: User, incident_id, data: KnownIssueIn) -> tuple[KnownIssue, Incident]:
    """Record or replace the incident's known issue; a new workaround reaches the status page at once."""
    incident = Incident.get_or_raise(incident_id)
    if incident.merged_into_id:
        raise Conflict(f"{incident.reference} was merged into INC-{incident.merged_into_id}; record it there.",
                       code="incident_merged")
    row = db.session.get(KnownIssue, incident.id)
    created = row is None
    if row is None:
        row = KnownIssue(incident_id=incident.id, created_at=utcnow())
        db.session.add(row)
    values = _values(incident, data)
    changed = [name for name in FIELDS if created or getattr(row, name) != values[name]]
    if not changed:
        return row, incident
    for name, value in values.items():
        setattr(row, name, value)
    row.search_text = policy.search_text(data.workaround, data.symptoms, data.cause, data.fix, data.tags,
                                         values["services"].split(), data.match_phrases)
    row.updated_at, row.updated_by_id = utcnow(), actor.id
    event = {"changed": changed, **({"workaround": data.workaround} if "workaround" in changed else {})}
    record(incident, "known_issue_recorded" if created else "known_issue_updated", actor, event)
    db.session.flush()
    if "workaround" in changed:
        incident_changed.send(incident.id)   # the status page shows it while the incident is open
    logger.info("%s: known issue %s by %s (%s)", incident.reference, "recorded" if created else "updated",
                actor.email, ", ".join(changed))
    return row, incident


@use_case
def remove_known_issue(actor: User, incident_id) -> None:
    """Withdraw the incident's entry: its workaround leaves the status page and its flags go."""
    row, incident = get_known_issue_or_raise(incident_id)
    had_workaround = bool(row.workaround)
    db.session.delete(row)
    record(incident, "known_issue_removed", actor, {})
    db.session.flush()
    if had_workaround:
        incident_changed.send(incident.id)


def get_known_issue_or_raise(incident_id) -> tuple[KnownIssue, Incident]:
    incident = Incident.get_or_raise(incident_id)
    row = db.session.get(KnownIssue, incident.id)
    if row is None:
        raise KnownIssueNotFound(incident)
    return row, incident


def get_known_issue(incident_id: int) -> KnownIssue | None:
    return db.session.get(KnownIssue, incident_id)


def _term(term: str) -> ColumnElement[bool]:
    clauses = [KnownIssue.search_text.like(f"%{like_escape(term)}%", escape="\\"), contains(Incident.title, term)]
    number = policy.reference_id(term)
    if number is not None:
        clauses.append(Incident.id == number)
    return or_(*clauses)


def search_known_issues(*, q: str = "", state: str = "all", tag: str | None = None, service: str | None = None,
                        page: int = 1, per_page: int = 50) -> tuple[list[tuple[KnownIssue, Incident]], int]:
    """Entries whose text has every word of `q`: current ones first, then known ones, latest resolved first."""
    if state not in STATES:
        raise ValidationFailed(f"state must be one of {', '.join(STATES)}.", details={"state": state})
    if len(q) > MAX_QUERY:
        raise ValidationFailed(f"A search has at most {MAX_QUERY} characters.", details={"q": len(q)})
    query = select(KnownIssue, Incident).join(Incident, Incident.id == KnownIssue.incident_id).where(visible())
    for term in policy.search_terms(q):
        query = query.where(_term(term))
    if state == KnownIssueState.CURRENT:
        query = query.where(Incident.status != IncidentStatus.RESOLVED)
    elif state == KnownIssueState.KNOWN:
        query = query.where(Incident.status == IncidentStatus.RESOLVED)
    if tag:
        query = query.where(KnownIssue.tags.like(f"% {like_escape(tag)} %", escape="\\"))
    if service:
        query = query.where(KnownIssue.services.like(f"% {like_escape(service)} %", escape="\\"))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    current_first = case((Incident.status != IncidentStatus.RESOLVED, 0), else_=1)
    rows = db.session.execute(query.order_by(current_first, func.coalesce(Incident.resolved_at, Incident.declared_at)
                                             .desc(), Incident.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).tuples().all()
    return list(rows), total


def matched_counts(incident_ids: list[int]) -> dict[int, int]:
    """{incident id: tickets flagged as looking like its entry}."""
    if not incident_ids:
        return {}
    return dict(db.session.execute(select(KnownIssueMatch.incident_id, func.count())
                                   .where(KnownIssueMatch.incident_id.in_(incident_ids))
                                   .group_by(KnownIssueMatch.incident_id)).tuples().all())


def public_workarounds(incident_ids: list[int]) -> dict[int, str]:
    """{incident id: workaround} of these incidents that are open and have one: what the public may read."""
    if not incident_ids:
        return {}
    return dict(db.session.execute(
        select(KnownIssue.incident_id, KnownIssue.workaround).join(Incident, Incident.id == KnownIssue.incident_id)
        .where(KnownIssue.incident_id.in_(incident_ids), KnownIssue.workaround != "",
               Incident.status != IncidentStatus.RESOLVED, public_incidents())).tuples().all())


def ticket_flags(ticket_ids: list[int]) -> dict[int, tuple[int, KnownIssueState]]:
    """{ticket id: (incident id, state)} for those of these tickets that looked like a known issue."""
    if not ticket_ids:
        return {}
    rows = db.session.execute(select(KnownIssueMatch.ticket_id, KnownIssueMatch.incident_id, Incident.status)
                              .join(Incident, Incident.id == KnownIssueMatch.incident_id)
                              .where(KnownIssueMatch.ticket_id.in_(ticket_ids), visible()))
    return {ticket_id: (incident_id, policy.state(is_open=status != IncidentStatus.RESOLVED))
            for ticket_id, incident_id, status in rows}


def workaround_of(incident_id: int) -> str:
    """The incident's workaround ("" when none): what a broadcast that asks for it includes."""
    return db.session.scalar(select(KnownIssue.workaround).where(KnownIssue.incident_id == incident_id)) or ""
