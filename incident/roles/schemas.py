"""Request schemas for crisis roles and checklists, and how a role term reads."""
from __future__ import annotations

from pydantic import Field

from ..api import Strict
from ..clock import isoformat
from ..validation import Email
from .models import RoleAssignment


class AssignRole(Strict):
    user: Email


class TickItem(Strict):
    runbook: str = Field(min_length=1, max_length=100)
    item: str = Field(min_length=1, max_length=16)
    checked: bool = True


def term_to_dict(term: RoleAssignment) -> dict:
    return {"role": term.role, "user": term.user.email,
            "from": isoformat(term.assigned_at), "to": isoformat(term.relieved_at),
            "assigned_by": term.assigned_by.email if term.assigned_by else None,
            "relieved_by": term.relieved_by.email if term.relieved_by else None}
