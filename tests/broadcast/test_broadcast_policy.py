"""What a broadcast's state allows: one set of rules for the service and the page."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from incident.broadcast import policy

DUE = datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("status", "due", "expected"), [
    ("scheduled", DUE, True), ("sending", DUE, True),
    ("sending", None, False), ("done", DUE, False), ("cancelled", DUE, False),
])
def test_only_an_unprepared_send_on_a_live_broadcast_can_be_edited(status, due, expected):
    assert policy.editable(status, due) is expected


@pytest.mark.parametrize(("status", "due", "queued", "expected"), [
    ("scheduled", DUE, 0, True), ("done", None, 3, True), ("done", None, 0, False),
    ("sending", None, 0, False), ("cancelled", DUE, 5, False),
])
def test_a_broadcast_can_be_cancelled_while_anything_is_left_to_stop(status, due, queued, expected):
    assert policy.cancellable(status, due, queued) is expected


@pytest.mark.parametrize(("status", "queued", "shown"), [
    ("done", 4, "sending"), ("sending", 4, "sending"), ("sending", 0, "repeating"),
    ("done", 0, "done"), ("scheduled", 0, "scheduled"), ("cancelled", 2, "cancelled"),
])
def test_staff_see_sending_while_rows_go_out_and_repeating_between_sends(status, queued, shown):
    assert policy.shown_state(status, queued) == shown
