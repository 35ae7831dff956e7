"""Linking use cases: link and unlink in bulk, link rules, merge duplicates, solve on resolve.

Every action is a handful of set-based statements however many tickets it touches, and
writes one LinkAction and one timeline event, never one per ticket.
"""
from __future__ import annotations

import base64
import csv
import io
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Iterator, cast

from sqlalchemy import Integer, and_, delete, func, literal, or_, select, true, tuple_, update

from ..auth.models import User
from ..clock import utcnow
from ..dbutil import execute_dml
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..incidents.models import Incident, TimelineEvent
from ..incidents.signals import incident_changed, incident_resolved
from ..incidents.timeline import record
from ..types import UTCDateTime
from ..uow import use_case
from . import queries
from .models import IncidentTicketStats, LinkAction, LinkRule, Ticket
from .policy import TicketFilter
from .signals import tickets_linked, tickets_moved, tickets_unlinked

logger = logging.getLogger(__name__)
CHUNK = 5_000


def get_open_incident_or_raise(incident_id) -> Incident:
    """The incident, if tickets may be linked to it: known, open and not merged away."""
    incident = Incident.get_or_raise(incident_id)
    if incident.merged_into_id:
        raise Conflict(f"{incident.reference} was merged into INC-{incident.merged_into_id}; link there.",
                       code="incident_merged")
    if not incident.is_open:
        raise Conflict(f"{incident.reference} is resolved; reopen it before linking tickets.",
                       code="incident_resolved")
    return incident


def _action(incident: Incident, actor: User | None, *, action: str, method: str, criteria: dict) -> LinkAction:
    row = LinkAction(incident_id=incident.id, action=action, method=method, at=utcnow(),
                     actor_id=actor.id if actor else None, actor=actor.email if actor else "system",
                     criteria=criteria, count=0)
    db.session.add(row)
    db.session.flush()
    return row


def _set_link(clauses, incident: Incident, actor: User | None, action: LinkAction, method: str) -> int:
    result = execute_dml(
        update(Ticket).where(*clauses).values(
            incident_id=incident.id, linked_at=action.at, link_method=method, link_action_id=action.id)
        .execution_options(synchronize_session=False))
    return result.rowcount


def _moved_from(clauses, incident: Incident) -> dict[int, int]:
    """How many of these tickets sit on other incidents now: {incident id: count}."""
    rows = db.session.execute(select(Ticket.incident_id, func.count()).where(
        *clauses, Ticket.incident_id.is_not(None), Ticket.incident_id != incident.id).group_by(Ticket.incident_id))
    return dict(cast(Iterable[tuple[int, int]], rows.all()))


def _record_moves(moved: dict[int, int], target: Incident, actor: User | None) -> None:
    for old_id, count in moved.items():
        old = db.session.get_one(Incident, old_id)
        record(old, "tickets_unlinked", actor, {"count": count, "method": "moved", "to": target.reference})
        old.tickets_version += 1


def _finish(incident: Incident, actor: User | None, action: LinkAction, count: int) -> None:
    action.count = count
    if count:
        incident.tickets_version += 1
        if actor is not None:  # a person just acted: their next look shows it, not a copy 2 s old
            db.session.execute(delete(IncidentTicketStats).where(IncidentTicketStats.incident_id == incident.id))
        record(incident, "tickets_linked" if action.action == "link" else "tickets_unlinked", actor,
               {"count": count, "method": action.method, "criteria": action.criteria})
        if action.action == "link":
            tickets_linked.send(incident, link_action_id=action.id)


def apply_link(incident: Incident, actor: User | None, *, ticket_ids: list[int], method: str,
               criteria: dict, only_unlinked: bool = True) -> int:
    """Link these ticket ids (flush, no commit); returns how many changed."""
    if not ticket_ids:
        return 0
    action = _action(incident, actor, action="link", method=method, criteria=criteria)
    linked = 0
    for start in range(0, len(ticket_ids), CHUNK):
        chunk = ticket_ids[start:start + CHUNK]
        owner = Ticket.incident_id.is_(None) if only_unlinked else or_(
            Ticket.incident_id.is_(None), Ticket.incident_id != incident.id)
        linked += _set_link([Ticket.id.in_(chunk), owner], incident, actor, action, method)
    _finish(incident, actor, action, linked)
    return linked


@use_case
def link_by_ids(actor: User, incident_id, external_ids: list[str], *, source: str | None = None,
                method: str = "manual") -> dict:
    """Link tickets named by external id; tickets on another incident move here."""
    incident = get_open_incident_or_raise(incident_id)
    wanted = list(dict.fromkeys(external_ids))
    action = _action(incident, actor, action="link", method=method,
                     criteria={"external_ids": len(wanted), **({"source": source} if source else {})})
    found: set[str]
    moved: dict[int, int]
    found, already, linked, moved = set(), 0, 0, {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        match = queries.by_external_ids(chunk, source)
        for external_id, owner in db.session.execute(select(Ticket.external_id, Ticket.incident_id).where(match)):
            found.add(external_id)
            already += owner == incident.id
        for old, count in _moved_from([match], incident).items():
            moved[old] = moved.get(old, 0) + count
        linked += _set_link([match, or_(Ticket.incident_id.is_(None), Ticket.incident_id != incident.id)],
                            incident, actor, action, method)
    _record_moves(moved, incident, actor)
    _finish(incident, actor, action, linked)
    return {"linked": linked, "already_linked": already, "moved": sum(moved.values()),
            "not_found": [e for e in wanted if e not in found]}


@use_case
def link_ticket_ids(actor: User, incident_id, ticket_ids: list[int]) -> dict:
    """Link tickets selected by their Tocsin ids (the tickets view's checkboxes)."""
    incident = get_open_incident_or_raise(incident_id)
    already = db.session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.id.in_(ticket_ids), Ticket.incident_id == incident.id))
    moved = _moved_from([Ticket.id.in_(ticket_ids)], incident)
    linked = apply_link(incident, actor, ticket_ids=ticket_ids, method="manual",
                        criteria={"selected": len(ticket_ids)}, only_unlinked=False)
    _record_moves(moved, incident, actor)
    return {"linked": linked, "already_linked": already, "moved": sum(moved.values()), "not_found": []}


@use_case
def link_by_filter(actor: User, incident_id, ticket_filter: TicketFilter, *, method: str = "filter") -> dict:
    """Link every ticket a filter matches, in one statement; 422 when it matches nothing."""
    incident = get_open_incident_or_raise(incident_id)
    clauses = queries.where(ticket_filter)
    matched = db.session.scalar(select(func.count()).select_from(Ticket).where(*clauses))
    if not matched:
        raise ValidationFailed("The filter matches no tickets.", code="no_tickets_matched",
                               details={"filter": ticket_filter.as_dict()})
    action = _action(incident, actor, action="link", method=method, criteria=ticket_filter.as_dict())
    moved = {} if ticket_filter.unlinked_only else _moved_from(clauses, incident)
    # counted before the link, while the incident's own index holds only what it had (after it, the same
    # count reads every ticket just linked: 0.3 s for 100,000 on SQLite)
    already = db.session.scalar(select(func.count()).select_from(Ticket).where(
        *queries.where(TicketFilter(**{**ticket_filter.__dict__, "unlinked_only": False})),
        Ticket.incident_id == incident.id))
    owner = or_(Ticket.incident_id.is_(None), Ticket.incident_id != incident.id)
    linked = _set_link([*clauses, owner], incident, actor, action, method)
    _record_moves(moved, incident, actor)
    _finish(incident, actor, action, linked)
    logger.info("%s: linked %s tickets by filter", incident.reference, linked)
    return {"linked": linked, "already_linked": already, "moved": sum(moved.values()), "not_found": []}


@use_case
def unlink(actor: User, incident_id, *, external_ids: list[str] | None = None, source: str | None = None,
           ticket_filter: TicketFilter | None = None) -> dict:
    """Unlink named tickets, those a filter matches, or (neither) all of them."""
    incident = Incident.get_or_raise(incident_id)
    if ticket_filter:
        criteria = ticket_filter.as_dict()
    else:
        criteria = {"external_ids": len(external_ids)} if external_ids is not None else {"all": True}
    action = _action(incident, actor, action="unlink", method="manual", criteria=criteria)
    if external_ids is not None:
        chunks = [queries.by_external_ids(external_ids[s : s + CHUNK], source) for s in range(0, len(external_ids), CHUNK)]
    else:
        chunks = [and_(*queries.where(ticket_filter))] if ticket_filter else [true()]
    found: set[str]
    count, found, unlinked = 0, set(), []
    for clause in chunks:
        taken = db.session.execute(select(Ticket.id, Ticket.external_id).where(
            clause, Ticket.incident_id == incident.id)).tuples().all()
        found.update(external_id for _, external_id in taken)
        unlinked += [ticket_id for ticket_id, _ in taken]
        count += execute_dml(update(Ticket).where(clause, Ticket.incident_id == incident.id).values(
            incident_id=None, linked_at=None, link_method=None, link_action_id=None)
            .execution_options(synchronize_session=False)).rowcount
    _finish(incident, actor, action, count)
    if unlinked:
        tickets_unlinked.send(incident, ticket_ids=unlinked, key=str(action.id))
    return {"unlinked": count, "not_found": [e for e in (external_ids or []) if e not in found]}


@use_case
def add_link_rule(
    actor: User, incident_id, *, tags: list[str], text: str, services: list[str], link_existing: bool = False
) -> tuple[LinkRule, int]:
    """A rule that links matching tickets as they arrive, while the incident is open."""
    if not (tags or text or services):
        raise ValidationFailed("A rule needs tags, text or services.", details={"rule": "empty"})
    incident = get_open_incident_or_raise(incident_id)
    rule = LinkRule(
        incident_id=incident.id,
        tags=sorted(set(tags)),
        text=text,
        services=sorted(set(services)),
        created_by_id=actor.id,
        created_at=utcnow(),
        active=True,
        linked=0,
    )
    db.session.add(rule)
    db.session.flush()
    record(incident, "link_rule_added", actor, {"rule": rule.id, "tags": rule.tags, "text": text, "services": rule.services})
    linked = 0
    if link_existing:
        rule_filter = TicketFilter(tags=tuple(rule.tags), services=tuple(rule.services), text=text, unlinked_only=True)
        action = _action(incident, actor, action="link", method="rule", criteria={"rule": rule.id, **rule_filter.as_dict()})
        linked = _set_link(queries.where(rule_filter), incident, actor, action, "rule")
        rule.linked = linked
        _finish(incident, actor, action, linked)
    return rule, linked


def list_link_rules(incident_id) -> list[LinkRule]:
    incident = Incident.get_or_raise(incident_id)
    return list(db.session.scalars(select(LinkRule).where(LinkRule.incident_id == incident.id).order_by(LinkRule.id)))


@use_case
def remove_link_rule(actor: User, incident_id, rule_id: int) -> None:
    """Stop a link rule (kept, inactive, for the record)."""
    incident = Incident.get_or_raise(incident_id)
    rule = db.session.get(LinkRule, rule_id)
    if rule is None or rule.incident_id != incident.id:
        raise NotFound(f"No link rule {rule_id} on {incident.reference}.", code="link_rule_not_found")
    if rule.active:
        rule.active = False
        record(incident, "link_rule_removed", actor, {"rule": rule.id})


def solve_linked(incident: Incident, actor: User | None) -> int:
    """Mark the incident's linked tickets solved (flush, no commit); returns how many."""
    now = utcnow()
    count = execute_dml(update(Ticket).where(
        Ticket.incident_id == incident.id, Ticket.status.not_in(("solved", "closed"))).values(
        status="solved", solved_at=now, updated_at=now).execution_options(synchronize_session=False)).rowcount
    if count:
        incident.tickets_version += 1
        record(incident, "tickets_solved", actor, {"count": count})
    return count


@incident_resolved.connect
def _on_incident_resolved(incident: Incident, *, actor: User | None = None, **_) -> None:
    if incident.solve_tickets_on_resolve:
        solve_linked(incident, actor)


@use_case
def merge_incident(actor: User, duplicate_id, *, into) -> Incident:
    """Move a duplicate's tickets, rules and timeline under the parent; the duplicate points to it.

    The duplicate's own status changes stay with it: the parent's key times, reopenings and review
    read the parent's life cycle, not a merged one's (its review lists what was merged into it)."""
    duplicate = Incident.get_or_raise(duplicate_id)
    parent = get_open_incident_or_raise(into)
    if duplicate.id == parent.id:
        raise ValidationFailed("An incident cannot be merged into itself.", details={"into": into})
    if duplicate.merged_into_id:
        raise Conflict(f"{duplicate.reference} was merged already.", code="incident_merged")
    now = utcnow()
    moved = list(db.session.scalars(select(Ticket.id).where(Ticket.incident_id == duplicate.id)))
    tickets = execute_dml(update(Ticket).where(Ticket.incident_id == duplicate.id).values(
        incident_id=parent.id, link_method="merge").execution_options(synchronize_session=False)).rowcount
    rules = execute_dml(update(LinkRule).where(LinkRule.incident_id == duplicate.id).values(
        incident_id=parent.id).execution_options(synchronize_session=False)).rowcount
    events = execute_dml(update(TimelineEvent).where(TimelineEvent.incident_id == duplicate.id,
                                                     TimelineEvent.kind != "status_changed").values(
        incident_id=parent.id).execution_options(synchronize_session=False)).rowcount
    duplicate.merged_into_id = parent.id
    if duplicate.is_open:
        duplicate.status, duplicate.resolved_at = "resolved", now
    duplicate.tickets_version += 1
    parent.tickets_version += 1
    summary = {
        "duplicate": duplicate.reference,
        "parent": parent.reference,
        "tickets": tickets,
        "rules": rules,
        "events": events,
    }
    record(parent, "merged", actor, summary)
    record(duplicate, "merged", actor, summary)
    incident_changed.send(duplicate.id)  # a published duplicate now reads resolved on the page
    if moved:
        tickets_moved.send(parent, ticket_ids=moved, key=f"merge:{duplicate.id}")
    return parent


@dataclass(frozen=True)
class TicketPage:
    """One page of a ticket list, newest first, and the cursors to the pages beside it (None: no such page)."""

    rows: list[Ticket]
    total: int
    next_cursor: str | None
    prev_cursor: str | None


def encode_cursor(ticket: Ticket, direction: str = "next") -> str:
    """An opaque cursor: the (created_at, id) key of a ticket and which way to read from it."""
    data = {"v": 1, "d": direction[0], "at": ticket.created_at.astimezone(timezone.utc).isoformat(), "id": ticket.id}
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int, str]:
    """(created_at, id, "next" | "prev") from a cursor; 422 saying what is wrong with it."""
    def bad(reason: str) -> ValidationFailed:
        return ValidationFailed(f"Invalid cursor: {reason}. Use a next_cursor or prev_cursor as given.",
                                code="invalid_cursor", details={"cursor": reason})
    if len(cursor) > 200:
        raise bad("too long")
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        raise bad("not a cursor this API gave") from None
    if not isinstance(data, dict) or data.get("v") != 1 or data.get("d") not in ("n", "p"):
        raise bad("not a cursor this API gave")
    ticket_id, at = data.get("id"), data.get("at")
    if not isinstance(ticket_id, int) or isinstance(ticket_id, bool) or not 0 < ticket_id < 2**63 \
            or not isinstance(at, str):
        raise bad("its position is malformed")
    try:
        created_at = datetime.fromisoformat(at)
    except ValueError:
        raise bad("its time is malformed") from None
    if created_at.tzinfo is None or not 1970 <= created_at.year <= 2999:
        raise bad("its time is malformed")
    return created_at, ticket_id, "next" if data["d"] == "n" else "prev"


def page_tickets(ticket_filter: TicketFilter, *, cursor: str | None = None, page: int = 1,
                 per_page: int = 50) -> TicketPage:
    """A page of the tickets matching a filter, newest first by (created_at, id).

    With a cursor, keyset paging: an index range from the cursor's key, as fast for the last page as
    for the first, and stable while tickets arrive. Without one, `page` (the older contract) is read
    with OFFSET; its answer carries cursors too, so a client can switch."""
    clauses = queries.where(ticket_filter)
    total = db.session.scalar(select(func.count()).select_from(Ticket).where(*clauses)) or 0
    key = tuple_(Ticket.created_at, Ticket.id)
    if cursor is not None:
        at, ticket_id, direction = decode_cursor(cursor)
        mark = tuple_(literal(at, UTCDateTime()), literal(ticket_id, Integer()))
        if direction == "next":
            rows = list(db.session.scalars(select(Ticket).where(*clauses, key < mark).order_by(
                Ticket.created_at.desc(), Ticket.id.desc()).limit(per_page + 1)))
            more = len(rows) > per_page
            rows = rows[:per_page]
            return TicketPage(rows, total, encode_cursor(rows[-1]) if more else None,
                              encode_cursor(rows[0], "prev") if rows else None)
        rows = list(db.session.scalars(select(Ticket).where(*clauses, key > mark).order_by(
            Ticket.created_at, Ticket.id).limit(per_page + 1)))
        more = len(rows) > per_page
        rows = list(reversed(rows[:per_page]))
        return TicketPage(rows, total, encode_cursor(rows[-1]) if rows else None,
                          encode_cursor(rows[0], "prev") if more else None)
    rows = _offset_page(clauses, total, page, per_page)
    has_next = (page - 1) * per_page + len(rows) < total
    return TicketPage(rows, total, encode_cursor(rows[-1]) if rows and has_next else None,
                      encode_cursor(rows[0], "prev") if rows and page > 1 else None)


def _offset_page(clauses, total: int, page: int, per_page: int) -> list[Ticket]:
    skip = (page - 1) * per_page
    if skip >= total:
        return []
    if skip <= total // 2:
        rows = db.session.scalars(
            select(Ticket).where(*clauses).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(per_page).offset(skip)
        ).all()
        return list(rows)
    # Past the middle, count from the oldest end: the database walks at most half the list
    # (the last of 5,000 pages took 250 ms on PostgreSQL, the first 20 ms). Cursors avoid both.
    first_from_end = max(total - skip - per_page, 0)
    rows = db.session.scalars(
        select(Ticket)
        .where(*clauses)
        .order_by(Ticket.created_at, Ticket.id)
        .limit(min(per_page, total - skip))
        .offset(first_from_end)
    ).all()
    return list(reversed(rows))


def list_tickets(ticket_filter: TicketFilter, *, page: int = 1, per_page: int = 50) -> tuple[list[Ticket], int]:
    """Tickets matching a filter, newest first, with the total (page by page; page_tickets has cursors)."""
    result = page_tickets(ticket_filter, page=page, per_page=per_page)
    return result.rows, result.total


def linked_counts(incident_ids: list[int]) -> dict[int, int]:
    """{incident id: linked tickets} in one query."""
    if not incident_ids:
        return {}
    rows = db.session.execute(select(Ticket.incident_id, func.count()).where(
        Ticket.incident_id.in_(incident_ids)).group_by(Ticket.incident_id))
    return dict(cast(Iterable[tuple[int, int]], rows.all()))


def export_rows(incident_id) -> Iterable[tuple]:
    """The incident's linked tickets as CSV rows, streamed, header first."""
    incident = Incident.get_or_raise(incident_id)
    yield (
        "source",
        "external_id",
        "subject",
        "requester_name",
        "requester_email",
        "status",
        "created_at",
        "linked_at",
        "link_method",
    )
    query = (
        select(
            Ticket.source,
            Ticket.external_id,
            Ticket.subject,
            Ticket.requester_name,
            Ticket.requester_email,
            Ticket.status,
            Ticket.created_at,
            Ticket.linked_at,
            Ticket.link_method,
        )
        .where(Ticket.incident_id == incident.id)
        .order_by(Ticket.created_at, Ticket.id)
        .execution_options(yield_per=2_000)
    )
    for row in db.session.execute(query):
        yield tuple(_cell(v) for v in row)


def export_csv(incident_id) -> Iterator[str]:
    """The linked tickets as CSV text, in chunks of about 64 kB, for a streamed download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in export_rows(incident_id):
        writer.writerow(row)
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(value):
    """A CSV cell that a spreadsheet will not run as a formula."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
