"""Customer use cases. Requesters of ingested tickets become customers here, in bulk."""
from __future__ import annotations

from sqlalchemy import insert, select

from ..dbutil import insert_ignoring_conflicts

from ..clock import utcnow
from ..extensions import db
from .models import Customer

CHUNK = 5_000


def _lookup(column, values: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(values), CHUNK):
        chunk = values[start:start + CHUNK]
        found.update(db.session.execute(select(column, Customer.id).where(column.in_(chunk))).all())
    return found


def ensure_requesters(requesters: list[tuple[str, str | None, str | None]]) -> list[int | None]:
    """Customer ids for (name, email, phone) requesters, matched by email, else phone; missing ones
    are created. One id per input (None when there is neither email nor phone). Flush, no commit."""
    emails = sorted({e for _, e, _ in requesters if e})
    phones = sorted({p for _, e, p in requesters if p and not e})
    by_email = _lookup(Customer.email, emails)
    by_phone = _lookup(Customer.phone, phones)
    now = utcnow()
    new_rows, seen = [], set()
    for name, email, phone in requesters:
        key = email or phone
        if not key or key in seen or (email and email in by_email) or (not email and phone in by_phone):
            continue
        seen.add(key)
        new_rows.append({"name": name or "", "email": email, "phone": phone, "locale": "en",
                         "channels": ["email"] if email else ["sms"], "created_at": now, "updated_at": now})
    if new_rows:
        with_email = [r for r in new_rows if r["email"]]
        if with_email:  # a concurrent batch may add the same address: keep theirs
            db.session.execute(insert_ignoring_conflicts(Customer, ["email"]), with_email)
        if len(with_email) < len(new_rows):
            db.session.execute(insert(Customer), [r for r in new_rows if not r["email"]])
        by_email.update(_lookup(Customer.email, [r["email"] for r in new_rows if r["email"]]))
        by_phone.update(_lookup(Customer.phone, [r["phone"] for r in new_rows if not r["email"]]))
    return [by_email.get(e) if e else by_phone.get(p) if p else None for _, e, p in requesters]
