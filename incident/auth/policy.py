"""Permission roles, login limits and who single sign-on lets in: pure rules, no database."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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


@dataclass(frozen=True)
class SsoDecision:
    """Who single sign-on lets in: `refused` says why not; `role` None keeps the account's role
    (a new account starts as a viewer)."""

    role: str | None = None
    refused: str | None = None


def groups_in(claims: Mapping[str, Any], claim: str) -> list[str] | None:
    """The groups in `claim` (a.b for a nested claim; a list or a space-separated string);
    None when the token has no such claim."""
    value: Any = claims
    for part in claim.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    if isinstance(value, str):
        return value.split()
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return None


def decide_sso(email: str, groups: list[str] | None, *, allowed_domains: frozenset[str] | set[str],
               role_map: Mapping[str, str]) -> SsoDecision:
    """Let someone in by a mapped group (the highest role wins) or by their email domain; someone whose
    groups name none of the mapped ones is refused when groups decide roles (OIDC_ROLE_MAP)."""
    mapped = [role_map[group] for group in groups or () if group in role_map]
    if mapped:
        return SsoDecision(role=max(mapped, key=PERMISSION_ROLES.index))
    if role_map and groups:
        shown = ", ".join(sorted(groups)[:10]) + (" …" if len(groups) > 10 else "")
        return SsoDecision(refused=f"None of your groups ({shown}) has a role in Tocsin.")
    domain = email.rpartition("@")[2].lower()
    if domain in allowed_domains:
        return SsoDecision()
    if role_map:
        return SsoDecision(refused=f"Your email domain {domain} is not allowed, and your sign-in "
                                   f"carries no group with a role in Tocsin.")
    return SsoDecision(refused=f"Your email domain {domain} is not allowed.")
