"""Review and action-item rules: pure functions, no database, `now` and `today` passed in.

A review moves draft → in review → published, one step at a time: a reviewer can send it back
to draft, and a lead can reopen a published one to draft (to correct it, or to take in what
happened after the incident was reopened). Only a draft or a review in review can be edited;
a published review is read-only, its record frozen as it was published. Action items live on
after publication: their state moves as the work gets done.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from ..vocabulary import ActionItemState, ReviewStatus

STATUSES = tuple(ReviewStatus)
STATES = tuple(ActionItemState)
SECTIONS = {"summary": "Summary", "impact": "Customer impact", "root_cause": "Root cause",
            "went_well": "What went well", "to_improve": "What to improve"}
STATUS_LABELS = {ReviewStatus.DRAFT: "draft", ReviewStatus.IN_REVIEW: "in review",
                 ReviewStatus.PUBLISHED: "published"}
REQUIRED_TO_PUBLISH = ("summary",)

# (from, to) → what the move is called on the timeline and in messages
TRANSITIONS = {
    (ReviewStatus.DRAFT, ReviewStatus.IN_REVIEW): "sent for review",
    (ReviewStatus.IN_REVIEW, ReviewStatus.DRAFT): "sent back to draft",
    (ReviewStatus.IN_REVIEW, ReviewStatus.PUBLISHED): "published",
    (ReviewStatus.PUBLISHED, ReviewStatus.DRAFT): "reopened to draft",
}


class TransitionRefused(ValueError):
    """A status move the review's workflow does not allow."""

    def __init__(self, message: str, allowed: list[str]):
        super().__init__(message)
        self.allowed = allowed


def allowed_moves(current: str) -> list[str]:
    """Where a review in `current` may go next."""
    return [to for (frm, to) in TRANSITIONS if frm == current]


def check_transition(current: str, new: str) -> str:
    """'same' when nothing moves, else the move's name; TransitionRefused for any other move."""
    if new not in STATUSES:
        raise TransitionRefused(f"unknown status {new!r}; one of {', '.join(STATUSES)}", allowed_moves(current))
    if current == new:
        return "same"
    name = TRANSITIONS.get((ReviewStatus(current), ReviewStatus(new)))
    if name is None:
        allowed = allowed_moves(current)
        raise TransitionRefused(f"a review that is {STATUS_LABELS[ReviewStatus(current)]} can only go to "
                                f"{' or '.join(STATUS_LABELS[ReviewStatus(a)] for a in allowed)}", allowed)
    return name


def editable(status: str) -> bool:
    """Sections can be written while the review is a draft or in review, never once published."""
    return status != ReviewStatus.PUBLISHED


def missing_for_publishing(sections: dict[str, str]) -> list[str]:
    """Sections that must be written before the review is published."""
    return [name for name in REQUIRED_TO_PUBLISH if not (sections.get(name) or "").strip()]


def can_change_item(*, is_lead: bool, is_owner: bool, fields: set[str]) -> bool:
    """A lead changes anything on an action item; its owner may move its state (done, dropped, open again)."""
    return is_lead or (is_owner and fields <= {"state"})


def is_overdue(state: str, due_on: date, today: date) -> bool:
    """Still open after its due day (days are UTC days)."""
    return state == ActionItemState.OPEN and due_on < today


def item_reminder(state: str, due_on: date, today: date) -> str | None:
    """Which reminder an open item is owed today: 'eve' the day before it is due, 'due' on the day;
    none before, none after (it is overdue then, and shown as such), none once it is closed."""
    if state != ActionItemState.OPEN:
        return None
    if today == due_on - timedelta(days=1):
        return "eve"
    if today == due_on:
        return "due"
    return None


def review_reminder_due(status: str, resolved_at: datetime | None, now: datetime, days: float) -> bool:
    """A review is owed its reminder when it is still a draft `days` after its incident was (last) resolved;
    an incident reopened meanwhile is not resolved, so its clock waits for the next resolution."""
    return status == ReviewStatus.DRAFT and resolved_at is not None and now >= resolved_at + timedelta(days=days)
