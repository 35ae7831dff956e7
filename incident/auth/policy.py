"""Permission roles: pure rules, no database."""
from __future__ import annotations

# Ordered: each role can do everything the ones before it can.
PERMISSION_ROLES = ("viewer", "agent", "engineer", "lead", "admin")


def has_permission(role: str, needed: str) -> bool:
    """True when a staff member with `role` may do what needs `needed`."""
    if role not in PERMISSION_ROLES or needed not in PERMISSION_ROLES:
        return False
    return PERMISSION_ROLES.index(role) >= PERMISSION_ROLES.index(needed)
