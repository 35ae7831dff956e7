"""Recording configuration changes, and reading them back (the API, the page, the CSV)."""
from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

import click
from flask import g, has_request_context
from sqlalchemy import func, select

from ..auth.models import User
from ..clock import isoformat, utcnow
from ..extensions import db
from .models import AuditEntry
from .policy import AuditFilter, diff

logger = logging.getLogger(__name__)
CLI, SYSTEM = "cli", "system"
CSV_COLUMNS = ("id", "at", "actor", "kind", "action", "target", "changes", "before", "after")


def current_actor() -> User | str:
    """Who is acting when a caller does not say: the staff member of this request, "cli" in a
    command, else "system" (the worker, the demo seed)."""
    if has_request_context() and g.get("user") is not None:
        return g.user
    if click.get_current_context(silent=True) is not None:
        return CLI
    return SYSTEM


def _json_safe(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return isoformat(value) if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(v) for v in value]
    return value


def snapshot(obj: Any, fields: Iterable[str]) -> dict:
    """The named attributes of a row (or mapping) as JSON: what the audit keeps of it."""
    get = obj.get if isinstance(obj, dict) else lambda name: getattr(obj, name, None)
    return {name: _json_safe(get(name)) for name in fields}


def record(actor: User | str | None, kind: str, target: Any, before: dict | None, after: dict | None, *,
           action: str | None = None) -> AuditEntry | None:
    """Add an audit entry to the session, in the caller's transaction (no commit): `before` None for
    a creation, `after` None for a deletion; nothing when before and after read the same.
    `actor`: a staff member, a label ("cli"), or None for whoever is acting now."""
    before, after = _json_safe(before), _json_safe(after)
    if before == after and action is None:   # nothing changed (or nothing there before nor after)
        return None
    who = current_actor() if actor is None else actor
    actor_id, label = (who.id, who.email) if isinstance(who, User) else (None, str(who))
    if action is None:
        action = "created" if before is None else "deleted" if after is None else "updated"
    entry = AuditEntry(at=utcnow(), actor=label[:254], actor_id=actor_id, kind=str(kind), action=action,
                       target=str(target)[:300], before=before, after=after, changes=diff(before, after))
    db.session.add(entry)
    return entry


def _where(f: AuditFilter) -> list:
    clauses = []
    if f.since is not None:
        clauses.append(AuditEntry.at >= f.since)
    if f.until is not None:
        clauses.append(AuditEntry.at < f.until)
    if f.actor:
        clauses.append(AuditEntry.actor == f.actor)
    if f.kinds:
        clauses.append(AuditEntry.kind.in_(f.kinds))
    return clauses


def list_entries(f: AuditFilter, *, page: int = 1, per_page: int = 50) -> tuple[list[AuditEntry], int]:
    """The entries the filter selects, newest first, with their total."""
    clauses = _where(f)
    total = db.session.scalar(select(func.count()).select_from(AuditEntry).where(*clauses)) or 0
    rows = db.session.scalars(select(AuditEntry).where(*clauses).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), total


def list_actors() -> list[str]:
    """Everyone who has changed anything, for the page's search."""
    return list(db.session.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor)))


def entry_to_dict(entry: AuditEntry) -> dict:
    return {"id": entry.id, "at": isoformat(entry.at), "actor": entry.actor, "kind": entry.kind,
            "action": entry.action, "target": entry.target, "before": entry.before, "after": entry.after,
            "changes": entry.changes or {}}


def export_csv(f: AuditFilter) -> Iterator[str]:
    """The entries the filter selects, oldest first, as CSV text in chunks of about 64 kB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    query = (select(AuditEntry).where(*_where(f)).order_by(AuditEntry.at, AuditEntry.id)
             .execution_options(yield_per=1_000))
    for entry in db.session.scalars(query):
        row = entry_to_dict(entry)
        writer.writerow([_cell(row[column] if column not in ("changes", "before", "after")
                               else json.dumps(row[column], sort_keys=True, ensure_ascii=False))
                         for column in CSV_COLUMNS])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(value):
    """A CSV cell that a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
