"""Escalation policy (pure): the paging schedule, swarming, business hours, rotations, validation."""
from __future__ import annotations

import copy
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from incident.escalation.policy import (
    MAX_TIMEOUT,
    NOBODY_ON_CALL,
    OUTSIDE_BUSINESS_HOURS,
    BusinessHours,
    Level,
    Override,
    Policy,
    PolicyError,
    Recipient,
    Rotation,
    Target,
    first_step,
    next_steps,
    on_call,
    recipients,
    shifts,
    simulate,
)

UTC = timezone.utc
ROME = ZoneInfo("Europe/Rome")
T = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)          # a Monday
MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)      # rotations start here

# The example from API.md, verbatim.
EXAMPLE = {
    "levels": [
        {"name": "L1", "targets": [{"user": "amy@example.com"}], "ack_timeout_seconds": 3600, "channels": ["slack", "sms"]},
        {
            "name": "L2",
            "targets": [{"rotation": "support-l2"}],
            "ack_timeout_seconds": 14400,
            "channels": ["slack", "sms", "email"],
        },
        {
            "name": "engineering",
            "targets": [{"rotation": "backend-oncall"}],
            "ack_timeout_seconds": 900,
            "channels": ["slack", "sms"],
        },
    ],
    "repeat": 1,
}

ROTATIONS = {
    "support-l2": Rotation("support-l2", ("bea@example.com", "carl@example.com"), 168, MONDAY),
    "backend-oncall": Rotation("backend-oncall", ("dev@example.com", "eve@example.com", "fay@example.com"), 168, MONDAY),
}
OFFICE = BusinessHours("Europe/Rome")  # Monday to Friday, 09:00-18:00 local


def policy(**changes) -> Policy:
    return Policy.from_dict("default", {**copy.deepcopy(EXAMPLE), **changes})


def office_hours_l1() -> Policy:
    data = copy.deepcopy(EXAMPLE)
    data["levels"][0]["business_hours"] = {
        "timezone": "Europe/Rome",
        "days": [0, 1, 2, 3, 4],
        "start": "09:00",
        "end": "18:00",
    }
    return Policy.from_dict("default", data)


def brief(steps):
    return [(s.level_name, s.round, s.at, s.deadline, s.skipped) for s in steps]


def who(step):
    return [r.value for r in step.recipients]


# ---------------------------------------------------------------- tiered schedule


def test_classic_scenario_walks_l1_l2_engineering_then_repeats_once():
    steps = simulate(policy(), ROTATIONS, start=T)
    m = lambda minutes: T + timedelta(minutes=minutes)  # noqa: E731
    assert brief(steps) == [
        ("L1", 0, T, m(60), None),
        ("L2", 0, m(60), m(300), None),
        ("engineering", 0, m(300), m(315), None),
        ("L1", 1, m(315), m(375), None),
        ("L2", 1, m(375), m(615), None),
        ("engineering", 1, m(615), m(630), None),
    ]
    assert who(steps[0]) == ["amy@example.com"]
    assert steps[1].recipients == (Recipient("user", "bea@example.com", via="support-l2"),)  # week 8: even
    assert steps[1].channels == ("slack", "sms", "email")
    assert [s.level_index for s in steps] == [0, 1, 2, 0, 1, 2]


def test_first_and_next_steps_one_breach_at_a_time():
    p = policy()
    first = first_step(p, ROTATIONS, start=T)
    assert brief(first) == [("L1", 0, T, T + timedelta(hours=1), None)]
    after_l1 = next_steps(p, ROTATIONS, level_index=0, round=0, at=first[0].deadline)
    assert brief(after_l1) == [("L2", 0, T + timedelta(hours=1), T + timedelta(hours=5), None)]
    wrap = next_steps(p, ROTATIONS, level_index=2, round=0, at=T + timedelta(hours=5, minutes=15))
    assert [(s.level_name, s.round) for s in wrap] == [("L1", 1)]
    assert next_steps(p, ROTATIONS, level_index=2, round=1, at=T) == []


def test_no_repeat_means_exhausted_after_the_last_level():
    steps = simulate(policy(repeat=0), ROTATIONS, start=T)
    assert [s.level_name for s in steps] == ["L1", "L2", "engineering"]


def test_escalating_straight_to_a_named_level():
    p = policy()
    steps = first_step(p, ROTATIONS, start=T, level=p.index_of("engineering"))
    assert brief(steps) == [("engineering", 0, T, T + timedelta(minutes=15), None)]
    assert [s.level_name for s in simulate(p, ROTATIONS, start=T, level=2)] == ["engineering", "L1", "L2", "engineering"]
    with pytest.raises(PolicyError) as error:
        p.index_of("L9")
    assert error.value.details == {"level": "unknown level"}
    with pytest.raises(PolicyError):
        first_step(p, ROTATIONS, start=T, level=3)


def test_simulate_stops_at_the_limit():
    assert len(simulate(policy(repeat=9), ROTATIONS, start=T, limit=7)) == 7


def test_breach_of_an_unknown_step_is_refused():
    for kwargs in ({"level_index": 3, "round": 0}, {"level_index": 0, "round": 2}, {"level_index": -1, "round": 0}):
        with pytest.raises(PolicyError):
            next_steps(policy(), ROTATIONS, at=T, **kwargs)
    with pytest.raises(PolicyError) as error:
        first_step(policy(), ROTATIONS, start=T, mode="relay")
    assert "mode" in error.value.details


def test_naive_datetimes_are_refused():
    with pytest.raises(PolicyError):
        first_step(policy(), ROTATIONS, start=datetime(2026, 3, 2, 10, 0))
    with pytest.raises(PolicyError):
        on_call(ROTATIONS["support-l2"], datetime(2026, 3, 2, 10, 0))


# ---------------------------------------------------------------- swarming


def test_swarm_pages_every_level_at_once_with_the_shortest_deadline_and_repeats():
    p = policy()
    first = first_step(p, ROTATIONS, start=T, mode="swarm")
    deadline = T + timedelta(minutes=15)
    assert brief(first) == [
        ("L1", 0, T, deadline, None),
        ("L2", 0, T, deadline, None),
        ("engineering", 0, T, deadline, None),
    ]
    assert [who(s) for s in first] == [["amy@example.com"], ["bea@example.com"], ["fay@example.com"]]
    again = next_steps(p, ROTATIONS, level_index=0, round=0, at=deadline, mode="swarm")
    assert {(s.round, s.at, s.deadline) for s in again} == {(1, deadline, deadline + timedelta(minutes=15))}
    assert next_steps(p, ROTATIONS, level_index=0, round=1, at=deadline, mode="swarm") == []
    steps = simulate(p, ROTATIONS, start=T, mode="swarm")
    assert [(s.level_name, s.round) for s in steps] == [
        ("L1", 0),
        ("L2", 0),
        ("engineering", 0),
        ("L1", 1),
        ("L2", 1),
        ("engineering", 1),
    ]


def test_swarm_skips_closed_levels_and_times_out_on_those_paged():
    saturday = datetime(2026, 3, 7, 2, 0, tzinfo=ROME)
    data = copy.deepcopy(EXAMPLE)
    data["levels"][2]["business_hours"] = {"timezone": "Europe/Rome"}  # engineering (15 min) only in office hours
    steps = first_step(Policy.from_dict("default", data), ROTATIONS, start=saturday, mode="swarm")
    assert [s.skipped for s in steps] == [None, None, OUTSIDE_BUSINESS_HOURS]
    assert {s.deadline for s in steps[:2]} == {saturday + timedelta(hours=1)}


# ---------------------------------------------------------------- business hours


def test_saturday_night_skips_office_hours_l1_and_pages_l2_at_once():
    saturday = datetime(2026, 3, 7, 2, 0, tzinfo=ROME)
    steps = first_step(office_hours_l1(), ROTATIONS, start=saturday)
    assert brief(steps) == [
        ("L1", 0, saturday, None, OUTSIDE_BUSINESS_HOURS),
        ("L2", 0, saturday, saturday + timedelta(hours=4), None),
    ]
    assert steps[0].recipients == ()


def test_monday_morning_pages_office_hours_l1():
    monday = datetime(2026, 3, 9, 10, 0, tzinfo=ROME)
    steps = first_step(office_hours_l1(), ROTATIONS, start=monday)
    assert brief(steps) == [("L1", 0, monday, monday + timedelta(hours=1), None)]


def test_business_hours_are_checked_when_each_step_is_due():
    friday = datetime(2026, 3, 6, 17, 30, tzinfo=ROME)  # L1 open; round 1 falls at 22:45
    steps = simulate(office_hours_l1(), ROTATIONS, start=friday)
    assert [(s.level_name, s.round, s.skipped) for s in steps] == [
        ("L1", 0, None),
        ("L2", 0, None),
        ("engineering", 0, None),
        ("L1", 1, OUTSIDE_BUSINESS_HOURS),
        ("L2", 1, None),
        ("engineering", 1, None),
    ]
    assert steps[3].at == steps[4].at == friday + timedelta(hours=5, minutes=15)


def test_every_level_closed_pages_nobody_and_stops():
    data = copy.deepcopy(EXAMPLE)
    for level in data["levels"]:
        level["business_hours"] = {"timezone": "Europe/Rome"}
    steps = simulate(Policy.from_dict("default", data), ROTATIONS, start=datetime(2026, 3, 7, 2, 0, tzinfo=ROME))
    assert [(s.level_name, s.skipped) for s in steps] == [
        ("L1", OUTSIDE_BUSINESS_HOURS),
        ("L2", OUTSIDE_BUSINESS_HOURS),
        ("engineering", OUTSIDE_BUSINESS_HOURS),
    ]


def test_business_hours_follow_local_time_across_the_dst_change_in_rome():
    # Italy moves to summer time on Sunday 29 March 2026: 09:00 local is 08:00 UTC before, 07:00 UTC after.
    assert not OFFICE.contains(datetime(2026, 3, 27, 7, 30, tzinfo=UTC))  # Friday 08:30 CET
    assert OFFICE.contains(datetime(2026, 3, 27, 8, 0, tzinfo=UTC))  # Friday 09:00 CET
    assert OFFICE.contains(datetime(2026, 3, 30, 7, 0, tzinfo=UTC))  # Monday 09:00 CEST
    assert not OFFICE.contains(datetime(2026, 3, 30, 6, 59, tzinfo=UTC))  # Monday 08:59 CEST
    assert OFFICE.contains(datetime(2026, 3, 27, 16, 59, tzinfo=UTC))  # Friday 17:59 CET
    assert not OFFICE.contains(datetime(2026, 3, 30, 16, 0, tzinfo=UTC))  # Monday 18:00 CEST
    assert OFFICE.next_open(datetime(2026, 3, 28, 12, 0, tzinfo=UTC)) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    # And back to winter time on Sunday 25 October 2026.
    assert OFFICE.next_open(datetime(2026, 10, 23, 17, 0, tzinfo=UTC)) == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


def test_next_open():
    assert OFFICE.next_open(datetime(2026, 3, 3, 12, 0, tzinfo=UTC)) == datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    assert OFFICE.next_open(datetime(2026, 3, 3, 6, 0, tzinfo=UTC)) == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    assert OFFICE.next_open(datetime(2026, 3, 3, 18, 0, tzinfo=UTC)) == datetime(2026, 3, 4, 8, 0, tzinfo=UTC)
    sundays = BusinessHours("UTC", days=(6,), start=time(10), end=time(12))
    assert sundays.next_open(datetime(2026, 3, 8, 12, 0, tzinfo=UTC)) == datetime(2026, 3, 15, 10, 0, tzinfo=UTC)


def test_a_start_inside_the_spring_forward_gap_opens_at_the_first_real_instant():
    nights = BusinessHours("Europe/Rome", days=(6,), start=time(2, 30), end=time(5, 0))
    opened = nights.next_open(datetime(2026, 3, 29, 0, 0, tzinfo=UTC))
    assert opened == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST; 02:30 never happened
    assert nights.contains(opened)


# ---------------------------------------------------------------- rotations

WEEKLY = Rotation("weekly", ("a@example.com", "b@example.com", "c@example.com"), 168, MONDAY)


def test_week_long_shifts_cycle_through_the_users():
    week = timedelta(days=7)
    assert [on_call(WEEKLY, MONDAY + n * week) for n in range(4)] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "a@example.com",
    ]
    assert on_call(WEEKLY, MONDAY + week - timedelta(seconds=1)) == "a@example.com"


def test_who_is_on_call_at_two_on_saturday_night():
    assert on_call(WEEKLY, datetime(2026, 1, 10, 2, 0, tzinfo=UTC)) == "a@example.com"
    assert on_call(WEEKLY, datetime(2026, 1, 17, 2, 0, tzinfo=UTC)) == "b@example.com"
    # The same instant written in Rome's time gives the same answer.
    assert on_call(WEEKLY, datetime(2026, 1, 17, 3, 0, tzinfo=ROME)) == "b@example.com"


def test_nobody_is_on_call_before_the_rotation_starts():
    assert on_call(WEEKLY, MONDAY - timedelta(seconds=1)) is None
    assert shifts(WEEKLY, MONDAY - timedelta(days=2), MONDAY + timedelta(days=1)) == [
        ("a@example.com", MONDAY, MONDAY + timedelta(days=1))
    ]


def test_an_override_wins_and_then_ends():
    saturday = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)
    rotation = Rotation(
        "weekly", WEEKLY.users, 168, MONDAY, overrides=(Override("zed@example.com", saturday, saturday + timedelta(days=1)),)
    )
    assert on_call(rotation, saturday + timedelta(hours=2)) == "zed@example.com"
    assert on_call(rotation, saturday - timedelta(seconds=1)) == "a@example.com"
    assert on_call(rotation, saturday + timedelta(days=1)) == "a@example.com"


def test_the_latest_starting_override_wins():
    day = datetime(2026, 1, 7, 0, 0, tzinfo=UTC)
    rotation = Rotation(
        "weekly",
        WEEKLY.users,
        168,
        MONDAY,
        overrides=(
            Override("late@example.com", day + timedelta(hours=6), day + timedelta(hours=8)),
            Override("long@example.com", day, day + timedelta(days=1)),
        ),
    )
    assert on_call(rotation, day + timedelta(hours=7)) == "late@example.com"
    assert on_call(rotation, day + timedelta(hours=9)) == "long@example.com"


def test_shifts_cut_overrides_in_and_merge_adjacent_equal_users():
    d = lambda days: MONDAY + timedelta(days=days)  # noqa: E731
    rotation = Rotation(
        "weekly",
        ("a@example.com", "b@example.com"),
        168,
        MONDAY,
        overrides=(
            Override("b@example.com", d(5), d(9)),  # b takes a's weekend and runs into b's own week
            Override("c@example.com", d(10), d(11)),  # c covers one day of b's week
        ),
    )
    assert shifts(rotation, d(0), d(21)) == [
        ("a@example.com", d(0), d(5)),
        ("b@example.com", d(5), d(10)),
        ("c@example.com", d(10), d(11)),
        ("b@example.com", d(11), d(14)),
        ("a@example.com", d(14), d(21)),
    ]
    solo = Rotation("solo", ("a@example.com",), 24, MONDAY)
    assert shifts(solo, d(1) + timedelta(hours=3), d(8)) == [("a@example.com", d(1) + timedelta(hours=3), d(8))]
    assert shifts(solo, d(8), d(8)) == []


def test_a_rotation_on_local_time_hands_over_at_nine_across_daylight_saving():
    """Daily shifts from 09:00 in Rome: before the clocks go back on 25 October 2026 the
    hand-over is 07:00 UTC, after it 08:00 UTC; the shift spanning the change is 25 hours.
    Without a timezone the same rotation drifts to 08:00 local."""
    start = datetime(2026, 10, 19, 9, 0, tzinfo=ROME)  # Monday 09:00 CEST = 07:00 UTC
    local = Rotation("daily", ("a@example.com", "b@example.com"), 24, start, timezone="Europe/Rome")
    fixed = Rotation("daily", ("a@example.com", "b@example.com"), 24, start)
    saturday, monday = datetime(2026, 10, 24, tzinfo=ROME), datetime(2026, 10, 26, tzinfo=ROME)
    day = lambda d: d.astimezone(UTC)  # noqa: E731
    assert shifts(local, day(saturday), day(monday + timedelta(days=1))) == [
        ("a@example.com", day(saturday), datetime(2026, 10, 24, 7, tzinfo=UTC)),
        ("b@example.com", datetime(2026, 10, 24, 7, tzinfo=UTC), datetime(2026, 10, 25, 8, tzinfo=UTC)),  # 25 h
        ("a@example.com", datetime(2026, 10, 25, 8, tzinfo=UTC), datetime(2026, 10, 26, 8, tzinfo=UTC)),
        ("b@example.com", datetime(2026, 10, 26, 8, tzinfo=UTC), datetime(2026, 10, 26, 23, tzinfo=UTC)),
    ]
    assert on_call(local, datetime(2026, 10, 26, 8, 59, tzinfo=ROME)) == "a@example.com"
    assert on_call(local, datetime(2026, 10, 26, 9, 0, tzinfo=ROME)) == "b@example.com"
    assert on_call(fixed, datetime(2026, 10, 26, 8, 59, tzinfo=ROME)) == "b@example.com"  # real time: 08:00 local
    # Spring forward (29 March 2026): the shift spanning it is 23 hours; 09:00 stays 09:00.
    spring = Rotation(
        "daily", ("a@example.com", "b@example.com"), 24, datetime(2026, 3, 27, 9, tzinfo=ROME), timezone="Europe/Rome"
    )
    assert [
        (u, a.astimezone(ROME).hour, (b - a).total_seconds() / 3600)
        for u, a, b in shifts(spring, datetime(2026, 3, 28, 9, tzinfo=ROME), datetime(2026, 3, 30, 9, tzinfo=ROME))
    ] == [("b@example.com", 9, 23.0), ("a@example.com", 9, 24.0)]
    with pytest.raises(PolicyError) as error:
        Rotation("r", ("a@example.com",), 24, start, timezone="Mars/Olympus")
    assert set(error.value.details) == {"timezone"}


def test_rotation_and_override_validation():
    with pytest.raises(PolicyError) as error:
        Rotation("r", (), 0, MONDAY)
    assert set(error.value.details) == {"users", "shift_hours"}
    with pytest.raises(PolicyError):
        Rotation("r", ("a@example.com",), 24, datetime(2026, 1, 5, 9, 0))
    with pytest.raises(PolicyError) as error:
        Override("a@example.com", MONDAY, MONDAY)
    assert error.value.details == {"ends_at": "must be later than starts_at"}


# ---------------------------------------------------------------- recipients


def test_recipients_resolve_rotations_and_drop_duplicates_in_order():
    level = Level(
        "mixed",
        (
            Target(user="Bea@example.com"),
            Target(rotation="support-l2"),
            Target(slack_channel="C0ONCALL"),
            Target(rotation="backend-oncall"),
            Target(slack_channel="C0ONCALL"),
        ),
        900,
    )
    at = MONDAY + timedelta(hours=1)  # bea is on call for support-l2
    assert recipients(level, ROTATIONS, at) == [
        Recipient("user", "Bea@example.com"),
        Recipient("slack_channel", "C0ONCALL"),
        Recipient("user", "dev@example.com", via="backend-oncall"),
    ]


def test_recipients_unknown_rotation_and_nobody_on_call():
    level = Level("L2", (Target(rotation="nope"),), 900)
    with pytest.raises(PolicyError) as error:
        recipients(level, ROTATIONS, T)
    assert error.value.details == {"rotation": "no rotation named 'nope'"}
    future = {"support-l2": Rotation("support-l2", ("bea@example.com",), 168, T + timedelta(days=1))}
    assert recipients(Level("L2", (Target(rotation="support-l2"),), 900), future, T) == []


def test_a_level_with_nobody_to_page_is_skipped():
    rotations = {**ROTATIONS, "support-l2": Rotation("support-l2", ("bea@example.com",), 168, T + timedelta(days=1))}
    steps = next_steps(policy(), rotations, level_index=0, round=0, at=T)
    assert brief(steps) == [("L2", 0, T, None, NOBODY_ON_CALL), ("engineering", 0, T, T + timedelta(minutes=15), None)]


# ---------------------------------------------------------------- the API shape


def test_round_trip_of_the_api_example():
    p = Policy.from_dict("default", copy.deepcopy(EXAMPLE))
    assert p.levels[1].targets == (Target(rotation="support-l2"),)
    assert p.to_dict() == {"name": "default", **EXAMPLE}
    assert Policy.from_dict("default", p.to_dict()) == p


def test_round_trip_with_business_hours_and_defaults():
    data = {
        "levels": [
            {
                "name": "L1",
                "targets": [{"slack_channel": "C0ONCALL"}],
                "ack_timeout_seconds": 60,
                "business_hours": {"timezone": "Europe/Rome", "days": [4, 0, 0], "start": "08:30"},
            }
        ]
    }
    p = Policy.from_dict("drill", data)
    assert p.repeat == 0
    assert p.levels[0].channels == ("slack", "sms")
    assert p.levels[0].business_hours == BusinessHours("Europe/Rome", (0, 4), time(8, 30), time(18, 0))
    assert p.to_dict()["levels"][0]["business_hours"] == {
        "timezone": "Europe/Rome",
        "days": [0, 4],
        "start": "08:30",
        "end": "18:00",
    }
    assert Policy.from_dict("drill", p.to_dict()) == p


def test_timeouts_of_five_seconds_are_accepted_and_four_refused():
    def with_timeout(seconds):
        data = copy.deepcopy(EXAMPLE)
        data["levels"][0]["ack_timeout_seconds"] = seconds
        return Policy.from_dict("drill", data)

    assert with_timeout(5).levels[0].ack_timeout_seconds == 5
    assert with_timeout(MAX_TIMEOUT).levels[0].ack_timeout_seconds == MAX_TIMEOUT
    with pytest.raises(PolicyError) as error:
        with_timeout(4)
    assert list(error.value.details) == ["levels.0.ack_timeout_seconds"]
    steps = simulate(with_timeout(5), ROTATIONS, start=T, limit=2)
    assert steps[1].at == T + timedelta(seconds=5)


def _broken(mutate):
    data = copy.deepcopy(EXAMPLE)
    mutate(data)
    return data


def _set(path, value):
    def mutate(data):
        *parents, last = path
        node = data
        for key in parents:
            node = node[key]
        node[last] = value

    return mutate


CASES = [
    ("no levels", _set(["levels"], []), "levels"),
    ("levels missing", lambda d: d.pop("levels"), "levels"),
    ("levels not a list", _set(["levels"], {"L1": {}}), "levels"),
    ("duplicate level name", _set(["levels", 2, "name"], "L2"), "levels.2.name"),
    ("empty level name", _set(["levels", 0, "name"], ""), "levels.0.name"),
    ("timeout 4 s", _set(["levels", 1, "ack_timeout_seconds"], 4), "levels.1.ack_timeout_seconds"),
    ("timeout over 30 days", _set(["levels", 1, "ack_timeout_seconds"], MAX_TIMEOUT + 1), "levels.1.ack_timeout_seconds"),
    ("timeout a string", _set(["levels", 1, "ack_timeout_seconds"], "3600"), "levels.1.ack_timeout_seconds"),
    ("timeout a float", _set(["levels", 1, "ack_timeout_seconds"], 3600.0), "levels.1.ack_timeout_seconds"),
    ("timeout a boolean", _set(["levels", 1, "ack_timeout_seconds"], True), "levels.1.ack_timeout_seconds"),
    ("timeout missing", lambda d: d["levels"][1].pop("ack_timeout_seconds"), "levels.1.ack_timeout_seconds"),
    ("unknown channel", _set(["levels", 0, "channels"], ["slack", "pager"]), "levels.0.channels"),
    ("no channels", _set(["levels", 0, "channels"], []), "levels.0.channels"),
    ("target with no key", _set(["levels", 0, "targets"], [{}]), "levels.0.targets.0"),
    ("target with two keys", _set(["levels", 0, "targets", 0, "rotation"], "support-l2"), "levels.0.targets.0"),
    ("target with an unknown key", _set(["levels", 0, "targets", 0], {"team": "x"}), "levels.0.targets.0"),
    ("target with an empty value", _set(["levels", 0, "targets", 0], {"user": ""}), "levels.0.targets.0"),
    ("empty targets", _set(["levels", 0, "targets"], []), "levels.0.targets"),
    ("unknown level field", _set(["levels", 0, "ack_timeout"], 60), "levels.0.ack_timeout"),
    ("repeat 10", _set(["repeat"], 10), "repeat"),
    ("repeat -1", _set(["repeat"], -1), "repeat"),
    (
        "unknown timezone",
        _set(["levels", 0, "business_hours"], {"timezone": "Mars/Olympus"}),
        "levels.0.business_hours.timezone",
    ),
    (
        "start after end",
        _set(["levels", 0, "business_hours"], {"start": "18:00", "end": "09:00"}),
        "levels.0.business_hours.end",
    ),
    (
        "start equals end",
        _set(["levels", 0, "business_hours"], {"start": "09:00", "end": "09:00"}),
        "levels.0.business_hours.end",
    ),
    ("day 7", _set(["levels", 0, "business_hours"], {"days": [0, 7]}), "levels.0.business_hours.days"),
    ("no days", _set(["levels", 0, "business_hours"], {"days": []}), "levels.0.business_hours.days"),
    ("bad start", _set(["levels", 0, "business_hours"], {"start": "9 am"}), "levels.0.business_hours.start"),
    ("name mismatch", _set(["name"], "other"), "name"),
]


@pytest.mark.parametrize("mutate, key", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_invalid_policies_are_refused_with_the_field_named(mutate, key):
    with pytest.raises(PolicyError) as error:
        Policy.from_dict("default", _broken(mutate))
    assert key in error.value.details, error.value.details
    assert isinstance(error.value.details[key], str) and error.value.details[key]


def test_every_problem_is_reported_at_once():
    data = copy.deepcopy(EXAMPLE)
    data["levels"][0]["ack_timeout_seconds"] = 4
    data["levels"][2]["channels"] = ["fax"]
    data["repeat"] = 12
    with pytest.raises(PolicyError) as error:
        Policy.from_dict("default", data)
    assert set(error.value.details) == {"levels.0.ack_timeout_seconds", "levels.2.channels", "repeat"}
    assert error.value.message == "invalid escalation policy"


def test_objects_built_in_code_are_validated_too():
    with pytest.raises(PolicyError):
        Target()
    with pytest.raises(PolicyError):
        Target(user="a@example.com", rotation="r")
    with pytest.raises(PolicyError) as error:
        Level("L1", (), 4, channels=("pager",))
    assert set(error.value.details) == {"targets", "ack_timeout_seconds", "channels"}
    with pytest.raises(PolicyError) as error:
        Policy("p", (Level("L1", (Target(user="a@example.com"),), 60),) * 2, repeat=10)
    assert set(error.value.details) == {"levels.1.name", "repeat"}
    with pytest.raises(PolicyError) as error:
        BusinessHours("Nowhere/City", days=(9,), start=time(18), end=time(9))
    assert set(error.value.details) == {"timezone", "days", "end"}
