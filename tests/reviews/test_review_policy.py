"""The pure rules: the review's workflow, what may be edited, who may change an action item, reminders' days."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from incident.reviews import policy

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("current", "new", "how"), [
    ("draft", "in_review", "sent for review"), ("in_review", "draft", "sent back to draft"),
    ("in_review", "published", "published"), ("published", "draft", "reopened to draft"),
    ("draft", "draft", "same"), ("published", "published", "same")])
def test_allowed_moves(current, new, how):
    assert policy.check_transition(current, new) == how


@pytest.mark.parametrize(("current", "new", "allowed"), [
    ("draft", "published", ["in_review"]), ("published", "in_review", ["draft"]), ("draft", "archived", ["in_review"])])
def test_refused_moves_say_where_it_can_go(current, new, allowed):
    with pytest.raises(policy.TransitionRefused) as refused:
        policy.check_transition(current, new)
    assert refused.value.allowed == allowed


def test_only_unpublished_reviews_are_editable_and_publishing_needs_a_summary():
    assert policy.editable("draft") and policy.editable("in_review") and not policy.editable("published")
    assert policy.missing_for_publishing({"summary": "  \n"}) == ["summary"]
    assert policy.missing_for_publishing({"summary": "What happened"}) == []


def test_who_may_change_an_action_item():
    assert policy.can_change_item(is_lead=True, is_owner=False, fields={"title", "owner", "state"})
    assert policy.can_change_item(is_lead=False, is_owner=True, fields={"state"})
    assert not policy.can_change_item(is_lead=False, is_owner=True, fields={"state", "due_on"})
    assert not policy.can_change_item(is_lead=False, is_owner=False, fields={"state"})


def test_item_reminders_the_day_before_and_on_the_day_only_while_open():
    due = date(2026, 11, 25)
    days = {offset: policy.item_reminder("open", due, due + timedelta(days=offset)) for offset in (-2, -1, 0, 1)}
    assert days == {-2: None, -1: "eve", 0: "due", 1: None}
    assert policy.item_reminder("done", due, due) is None and policy.item_reminder("dropped", due, due) is None
    assert policy.is_overdue("open", due, due + timedelta(days=1)) and not policy.is_overdue("open", due, due)
    assert not policy.is_overdue("done", due, due + timedelta(days=9))


def test_a_draft_is_owed_its_reminder_after_the_days_since_resolution():
    assert not policy.review_reminder_due("draft", NOON, NOON + timedelta(days=3) - timedelta(seconds=1), 3)
    assert policy.review_reminder_due("draft", NOON, NOON + timedelta(days=3), 3)
    assert not policy.review_reminder_due("in_review", NOON, NOON + timedelta(days=9), 3)
    assert not policy.review_reminder_due("draft", None, NOON, 3)   # reopened: not resolved now
