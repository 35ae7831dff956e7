"""New tickets that look like a known issue are flagged as they arrive (tickets.signals.tickets_arrived).

One query for the entries that flag tickets, the pure matcher over the batch's rows in memory (a
few dictionary lookups a ticket, however many entries), and one multi-row INSERT of the flags, in
the ingest's transaction. The ingest answer lists them.
"""
from __future__ import annotations

from sqlalchemy import select

from ..clock import utcnow
from ..dbutil import bound_once, insert_ignoring_conflicts
from ..extensions import db
from ..incidents.models import Incident
from ..incidents.visibility import public_incidents
from ..tickets.policy import decode_words
from ..tickets.signals import tickets_arrived
from . import policy
from .models import KnownIssue, KnownIssueMatch

CHUNK = 2_000


def load_matcher() -> policy.Matcher:
    """The entries that flag tickets now, best first, indexed for matching."""
    rows = db.session.execute(
        select(KnownIssue.incident_id, KnownIssue.tags, KnownIssue.match_phrases, KnownIssue.fix,
               KnownIssue.workaround, Incident.status, Incident.severity, Incident.declared_at, Incident.resolved_at)
        .join(Incident, Incident.id == KnownIssue.incident_id)
        .where(KnownIssue.flag_tickets.is_(True), Incident.merged_into_id.is_(None),
               public_incidents())).all()   # a private incident's entry would tell L1 it exists
    entries = []
    for row in rows:
        is_open = row.status != "resolved"
        tags, phrases = decode_words(row.tags), list(row.match_phrases or [])
        if policy.flags_tickets(is_open=is_open, merged=False, enabled=True, fix=row.fix, workaround=row.workaround,
                                tags=tags, phrases=phrases):
            key = policy.rank_key(is_open=is_open, severity=row.severity, declared_at=row.declared_at,
                                  resolved_at=row.resolved_at)
            entries.append((key, row.incident_id, policy.Entry(row.incident_id, frozenset(tags), tuple(phrases))))
    entries.sort(key=lambda item: item[:2])
    return policy.Matcher.build(entry for _, _, entry in entries)


def flag_tickets(rows: list[dict], ids: dict[tuple[str, str], int]) -> list[dict]:
    """Flag the new tickets (ingest's rows: tags as ' a b ') that look like a known issue; what was flagged."""
    matcher = load_matcher()
    if not matcher:
        return []
    found, flags = [], []
    for row in rows:
        incident_id = matcher.match(row["tags"].split(), row["subject"], row["description"])
        if incident_id is not None:
            flags.append({"ticket_id": ids[(row["source"], row["external_id"])], "incident_id": incident_id})
            found.append({"external_id": row["external_id"], "source": row["source"], "incident_id": incident_id})
    if not flags:
        return found
    table = KnownIssueMatch.__table__
    statement = insert_ignoring_conflicts(table, ["ticket_id"]).values(matched_at=bound_once(table.c.matched_at,
                                                                                             utcnow()))
    for start in range(0, len(flags), CHUNK):
        db.session.execute(statement, flags[start:start + CHUNK])
    return found


@tickets_arrived.connect
def _on_tickets_arrived(_sender, *, rows: list[dict], ids: dict[tuple[str, str], int], **_) -> list[dict]:
    return flag_tickets(rows, ids)
