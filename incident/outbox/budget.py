"""A provider's request budget, shared by every worker and the CLI: a token bucket kept in one
database row, taken under a row lock (PostgreSQL) or the single writer (SQLite).

Zendesk, for one, counts requests per minute per account, in any 60 seconds. The bucket holds at most two
seconds' worth and refills so that the burst plus a minute's refill stays within the limit:
a limit such as `ZENDESK_REQUESTS_PER_MINUTE` is never exceeded, however many workers there are.
"""
from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import select

from ..clock import utcnow
from ..dbutil import dialect, insert_ignoring_conflicts
from ..extensions import db
from .models import ProviderBudget


def burst(per_minute: int) -> float:
    """Two seconds' worth (a worker's tick takes whole requests, so a smaller bucket would waste its refill)."""
    return max(2.0, per_minute / 30)


def refill_per_second(per_minute: int) -> float:
    return max(per_minute - burst(per_minute), 1.0) / 60


def take(name: str, wanted: int, per_minute: int, *, now: datetime | None = None) -> int:
    """Take up to `wanted` requests from the budget now; how many were granted. Commits."""
    if wanted <= 0:
        return 0
    now = now or utcnow()
    db.session.execute(insert_ignoring_conflicts(ProviderBudget.__table__, ["name"]).values(
        name=name, tokens=burst(per_minute), refilled_at=now))
    query = select(ProviderBudget).where(ProviderBudget.name == name)
    if dialect() == "postgresql":
        query = query.with_for_update()
    row = db.session.scalars(query).one()
    elapsed = max((now - row.refilled_at).total_seconds(), 0.0)
    tokens = min(burst(per_minute), row.tokens + elapsed * refill_per_second(per_minute))
    granted = min(wanted, math.floor(tokens + 1e-9))
    row.tokens, row.refilled_at = tokens - granted, max(now, row.refilled_at)
    db.session.commit()
    return granted


def give_back(name: str, count: int, per_minute: int) -> None:
    """Return requests taken and not made. Commits."""
    if count <= 0:
        return
    query = select(ProviderBudget).where(ProviderBudget.name == name)
    if dialect() == "postgresql":
        query = query.with_for_update()
    row = db.session.scalars(query).one()
    row.tokens = min(burst(per_minute), row.tokens + count)
    db.session.commit()


def wait_seconds(per_minute: int) -> float:
    """How long one request's worth takes to come back."""
    return 1 / refill_per_second(per_minute)
