"""Permission roles and login limits: pure rules, no database."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

# Ordered: each role can do everything the ones before it can.
PERMISSION_ROLES = ("viewer", "agent", "engineer", "lead", "admin")


def has_permission(role: str, needed: str) -> bool:
    """True when a staff member with `role` may do what needs `needed`."""
    if role not in PERMISSION_ROLES or needed not in PERMISSION_ROLES:
        return False
    return PERMISSION_ROLES.index(role) >= PERMISSION_ROLES.index(needed)


def login_retry_after(failures: list[datetime], *, limit: int, window: timedelta, now: datetime) -> int | None:
    """Seconds until one more login may be tried, given the earlier failures still in the
    window (any order); None when fewer than `limit` of them are."""
    recent = sorted(at for at in failures if at > now - window)
    if len(recent) < limit:
        return None
    # Once this failure leaves the window, only limit - 1 remain.
    frees_at = recent[len(recent) - limit] + window
    return max(1, math.ceil((frees_at - now).total_seconds()))
