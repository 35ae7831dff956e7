"""Ingest: upsert a batch of tickets, make requesters customers, link what the rules catch, tell
the features above about the new ones (tickets_arrived: known issues flag look-alikes).

Built for floods: one SELECT for what exists, one multi-row INSERT for what is new, one
executemany UPDATE for what changed, and no ORM object per ticket.
"""
from __future__ import annotations

import gc
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, and_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql

from .. import metrics
from ..auth.models import User
from ..clock import utcnow
from ..customers.service import ensure_requesters
from ..dbutil import dialect, driver_processors, insert_by_copy, insert_returning_sqlite
from ..extensions import db
from ..incidents.models import Incident
from ..server_timing import Steps
from .models import LinkRule, Ticket
from .policy import TicketFilter, content_hash, encode_words, matches
from .schemas import TicketIn
from .service import apply_link
from .signals import tickets_arrived

logger = logging.getLogger(__name__)
CHUNK = 2_000
FIELDS = ("subject", "description", "requester_name", "requester_email", "requester_phone", "tags",
          "services", "priority", "status", "created_at")


@dataclass
class IngestResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    linked: int = 0
    ticket_ids: list[int] = field(default_factory=list, repr=False)
    known_issue_matches: list[dict] = field(default_factory=list, repr=False)

    def counts(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "linked": self.linked}

    def as_dict(self) -> dict:
        """The ingest answer: the counts, and the new tickets that look like a known issue."""
        return {**self.counts(), "known_issue_matches": self.known_issue_matches}


@contextmanager
def gc_paused():
    """No cyclic garbage collection while one batch is parsed and written.

    A 10,000-ticket batch builds some half a million objects that all live until the reply; each
    collection the allocations trigger walks them again and frees nothing (a fifth of the request
    time). Collection resumes afterwards, so any garbage waits a moment, not forever. If the
    collector is off already (another batch in another thread), this leaves it alone.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _row(item: TicketIn, now) -> dict:
    row = {"source": item.source, "external_id": item.external_id, "subject": item.subject,
           "description": item.description, "requester_name": item.requester.name,
           "requester_email": item.requester.email, "requester_phone": item.requester.phone,
           "tags": encode_words(item.tags), "services": encode_words(item.services),
           "priority": item.priority, "status": item.status, "created_at": item.created_at or now}
    row["content_hash"] = content_hash(tuple(row[f] for f in FIELDS))
    return row


def _existing(keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, str]]:
    """{(source, external id): (ticket id, content hash)} of the keys already stored."""
    if dialect() == "postgresql":
        return _existing_from_arrays(keys)
    # SQLite: one source and a plain IN per query, looked up in the unique index.
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, []).append(external_id)
    found = {}
    for source, external_ids in by_source.items():
        for start in range(0, len(external_ids), CHUNK):
            query = select(Ticket.external_id, Ticket.id, Ticket.content_hash).where(
                Ticket.source == source, Ticket.external_id.in_(external_ids[start:start + CHUNK]))
            for external_id, ticket_id, digest in db.session.execute(query):
                found[(source, external_id)] = (ticket_id, digest)
    return found


def _existing_from_arrays(keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, str]]:
    """PostgreSQL: the keys as two arrays, joined to the unique index. An IN list of 2,000 values
    (pairs, or ids of one source) turns into a scan comparing every row with every value once
    psycopg prepares the statement and PostgreSQL picks a generic plan: seconds a batch at 60,000."""
    arrays = func.unnest(bindparam("sources", type_=postgresql.ARRAY(String)),
                         bindparam("external_ids", type_=postgresql.ARRAY(String)))
    wanted = arrays.table_valued("source", "external_id").render_derived()
    query = select(Ticket.source, Ticket.external_id, Ticket.id, Ticket.content_hash).join(
        wanted, and_(Ticket.source == wanted.c.source, Ticket.external_id == wanted.c.external_id))
    found = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        rows = db.session.execute(query, {"sources": [s for s, _ in chunk], "external_ids": [e for _, e in chunk]})
        for source, external_id, ticket_id, digest in rows:
            found[(source, external_id)] = (ticket_id, digest)
    return found


def _insert_new(rows: list[dict]) -> dict[tuple[str, str], int]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING: the ids of the rows this batch inserted, by key."""
    columns = list(rows[0])  # every row has the same keys
    if dialect() == "postgresql":
        inserted = insert_by_copy(Ticket.__table__, columns, (tuple(r[c] for c in columns) for r in rows),
                                  conflict=["source", "external_id"], returning=["id", "source", "external_id"])
        return {(source, external_id): ticket_id for ticket_id, source, external_id in inserted}
    # SQLite: the values converted here, as the column types convert them (timestamps as text); the
    # received and updated times are the same for every row, so converted once.
    process = driver_processors(Ticket.__table__, columns)
    once = {c: process.pop(c)(rows[0][c]) for c in ("received_at", "updated_at") if c in process}
    values = [tuple(once[c] if c in once else process[c](r[c]) if c in process else r[c] for c in columns)
              for r in rows]
    inserted = insert_returning_sqlite(Ticket.__table__, columns, values, conflict=["source", "external_id"],
                                       returning=["id", "source", "external_id"])
    return {(source, external_id): ticket_id for ticket_id, source, external_id in inserted}


def _open_rules() -> list[tuple[LinkRule, TicketFilter]]:
    """Active rules of open incidents, most severe incident first, then oldest rule."""
    rows = db.session.execute(
        select(LinkRule).join(Incident, Incident.id == LinkRule.incident_id)
        .where(LinkRule.active.is_(True), Incident.status != "resolved", Incident.merged_into_id.is_(None))
        .order_by(Incident.severity, LinkRule.id)).scalars().all()
    return [(r, TicketFilter(tags=tuple(r.tags), services=tuple(r.services), text=r.text)) for r in rows]


def _link_by_rules(new_rows: list[dict], ids: dict[tuple[str, str], int]) -> int:
    rules = _open_rules()
    if not rules:
        return 0
    caught: dict[int, list[int]] = {}
    for row in new_rows:
        tags, services = set(row["tags"].split()), set(row["services"].split())
        for rule, rule_filter in rules:
            if matches(rule_filter, tags=tags, services=services, subject=row["subject"],
                       description=row["description"]):
                caught.setdefault(rule.id, []).append(ids[(row["source"], row["external_id"])])
                break
    linked = 0
    by_rule = {rule.id: rule for rule, _ in rules}
    for rule_id, ticket_ids in caught.items():
        rule = by_rule[rule_id]
        incident = db.session.get_one(Incident, rule.incident_id)
        count = apply_link(incident, None, ticket_ids=ticket_ids, method="rule",
                           criteria={"rule": rule.id,
                                     **TicketFilter(tuple(rule.tags), tuple(rule.services), rule.text).as_dict()})
        rule.linked += count
        linked += count
    return linked


STEPS = ("rows", "lookup", "customers", "insert", "update", "rules", "known_issues", "commit")


def ingest_tickets(
    actor: User | None, items: list[TicketIn], *, apply_rules: bool = True, commit: bool = True,
    steps: Steps | None = None,
) -> IngestResult:
    """Upsert tickets on (source, external id); re-sending the same ticket changes nothing.

    New tickets that a link rule matches are linked (unless `apply_rules` is off, as for an
    import aimed at one incident); receivers of `tickets_arrived` look at every new ticket (known
    issues flag those that look like one); `ticket_ids` lists every ticket of the batch. `steps`, when
    given, gets the time of each step (STEPS) for the Server-Timing header.
    """
    step = (steps or Steps()).step
    now = utcnow()
    rows = {}
    with step("rows"):
        for item in items:  # the last copy of a ticket in a batch wins
            row = _row(item, now)
            rows[(row["source"], row["external_id"])] = row
    with step("lookup"):
        existing = _existing(list(rows))
    new = [r for k, r in rows.items() if k not in existing]
    changed = [dict(r, _id=existing[k][0]) for k, r in rows.items() if k in existing and existing[k][1] != r["content_hash"]]
    result = IngestResult(unchanged=len(rows) - len(new) - len(changed))

    todo = new + changed
    with step("customers"):
        requesters = ensure_requesters([(r["requester_name"], r["requester_email"], r["requester_phone"])
                                        for r in todo])
    for row, customer_id in zip(todo, requesters, strict=True):
        row["customer_id"] = customer_id
    connection = db.session.connection()
    ids: dict[tuple[str, str], int] = {}
    if new:
        with step("insert"):
            for row in new:
                row.update(received_at=now, updated_at=now)
            ids = _insert_new(new)
        result.created = len(ids)
        result.updated += len(new) - len(ids)  # a concurrent batch inserted them first
    if changed:
        with step("update"):
            values: dict[str, Any] = {f: bindparam(f) for f in (*FIELDS, "content_hash", "customer_id")}
            connection.execute(update(Ticket).where(Ticket.id == bindparam("_id")).values(updated_at=now, **values),
                               changed)
        result.updated += len(changed)
    arrived = [r for r in new if (r["source"], r["external_id"]) in ids]
    if apply_rules and arrived:
        with step("rules"):
            result.linked = _link_by_rules(arrived, ids)
    if arrived:
        with step("known_issues"):
            for _receiver, flagged in tickets_arrived.send(None, rows=arrived, ids=ids):
                result.known_issue_matches.extend(flagged or ())
    result.ticket_ids = list(ids.values()) + [ticket_id for ticket_id, _ in existing.values()]
    if commit:
        with step("commit"):
            db.session.commit()
    for outcome in ("created", "updated", "unchanged"):
        metrics.TICKETS_INGESTED.labels(outcome).inc(getattr(result, outcome))
    logger.info("ingested %s tickets: %s, %s like a known issue", len(rows), result.counts(),
                len(result.known_issue_matches))
    return result
