"""The one source of "now". Everything that needs the time asks here, so tests move the clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

_frozen: datetime | None = None


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC (or the frozen time in tests)."""
    return _frozen if _frozen is not None else datetime.now(timezone.utc)


def freeze(at: datetime) -> None:
    """Stop the clock at `at` (tests and drills only)."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("freeze() needs a timezone-aware datetime")
    _frozen = at.astimezone(timezone.utc)


def advance(**delta: float) -> datetime:
    """Move a frozen clock forward, e.g. advance(minutes=61)."""
    if _frozen is None:
        raise RuntimeError("the clock is not frozen")
    freeze(_frozen + timedelta(**delta))
    return utcnow()


def unfreeze() -> None:
    """Let the clock run with the real time again."""
    global _frozen
    _frozen = None


def isoformat(value: datetime | None) -> str | None:
    """ISO 8601 with an explicit offset, as the API promises; None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="seconds")
