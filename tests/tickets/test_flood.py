"""Flood detection: pure, so every test builds arrivals by hand and chooses `now`."""
from __future__ import annotations

import bisect
import random
from datetime import datetime, timedelta, timezone

import pytest

from incident.tickets.flood import FloodSettings, FloodSignal, detect_floods

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
DEFAULTS = FloodSettings()
WINDOW_START = NOW - timedelta(minutes=15)


def tagged(times, *tags, services=()):
    """Arrivals with the same tags and services at each of `times`."""
    return [(t, list(tags), list(services)) for t in times]


def every(interval: timedelta, *, start: datetime, end: datetime):
    """Times from `start` up to (not including) `end`, `interval` apart."""
    times, t = [], start
    while t < end:
        times.append(t)
        t += interval
    return times


def steady_background(tag: str, per_hour: int, *, now: datetime = NOW):
    """A ticket on `tag` at a steady rate across the baseline and the window."""
    return tagged(every(timedelta(hours=1) / per_hour, start=DEFAULTS.since(now), end=now), tag)


def test_since_is_the_start_of_the_baseline():
    assert DEFAULTS.since(NOW) == NOW - timedelta(hours=24, minutes=15)


def test_a_sudden_flood_is_detected_with_its_numbers():
    background = tagged([WINDOW_START - timedelta(minutes=1 + 30 * i) for i in range(48)], "login")
    flood_start = NOW - timedelta(minutes=10)
    flood = tagged([flood_start + timedelta(seconds=3 * i) for i in range(200)], "login", "sso")

    signals = detect_floods(background + flood, now=NOW)

    login = next(s for s in signals if s.key == "login")
    assert login == FloodSignal(kind="tag", key="login", recent=200, baseline=48, recent_per_hour=800.0,
                                baseline_per_hour=2.0, ratio=400.0, window_start=WINDOW_START,
                                first_at=flood_start, last_at=NOW - timedelta(seconds=3))
    sso = next(s for s in signals if s.key == "sso")
    assert (sso.baseline, sso.baseline_per_hour, sso.ratio) == (0, 1.0, 800.0)  # brand new: the floor applies
    assert [s.key for s in signals] == ["sso", "login"]


@pytest.mark.parametrize("per_hour", [2, 10, 60, 100, 400])
def test_steady_traffic_at_any_level_raises_no_alarm(per_hour):
    arrivals = steady_background("billing", per_hour)
    assert detect_floods(arrivals, now=NOW) == []


def test_steady_traffic_above_min_tickets_is_still_no_flood():
    arrivals = steady_background("billing", 100)
    in_window = [a for a in arrivals if a[0] >= WINDOW_START]
    assert len(in_window) >= DEFAULTS.min_tickets
    assert detect_floods(arrivals, now=NOW) == []


def test_a_quiet_period_raises_nothing():
    assert detect_floods([], now=NOW) == []
    baseline_only = steady_background("billing", 60)
    quiet = [a for a in baseline_only if a[0] < WINDOW_START]
    assert detect_floods(quiet, now=NOW) == []


def test_a_new_tag_needs_min_tickets():
    nineteen = tagged([NOW - timedelta(minutes=5)] * 19, "brand-new")
    assert detect_floods(nineteen, now=NOW) == []
    twenty = nineteen + tagged([NOW], "brand-new")
    [signal] = detect_floods(twenty, now=NOW)
    assert (signal.recent, signal.baseline, signal.baseline_per_hour, signal.ratio) == (20, 0, 1.0, 80.0)


def test_a_busy_tag_must_also_beat_factor_times_its_baseline():
    baseline = tagged(every(timedelta(minutes=3), start=DEFAULTS.since(NOW), end=WINDOW_START), "billing")  # 20/h
    recent = tagged(every(timedelta(seconds=9), start=WINDOW_START, end=NOW), "billing")  # 100 -> 400/h: 20x
    assert detect_floods(baseline + recent, now=NOW)[0].ratio == pytest.approx(20.0)
    slower = tagged(every(timedelta(seconds=60), start=WINDOW_START, end=NOW), "billing")  # 15 -> 60/h: 3x
    padded = slower + tagged([NOW] * 10, "billing")  # 25 tickets -> 100/h: 5x, exactly the factor
    assert detect_floods(baseline + slower, now=NOW) == []
    assert detect_floods(baseline + padded, now=NOW)[0].ratio == pytest.approx(5.0)


def test_services_and_tags_are_independent_kinds():
    flood = tagged([NOW - timedelta(minutes=2)] * 30, "payments", services=["payments", "checkout"])
    signals = detect_floods(flood, now=NOW)
    assert {(s.kind, s.key) for s in signals} == {("tag", "payments"), ("service", "payments"),
                                                  ("service", "checkout")}
    service_only = [(NOW, [], ["checkout"])] * 25
    assert [(s.kind, s.key) for s in detect_floods(service_only, now=NOW)] == [("service", "checkout")]


def test_duplicate_tags_count_once_per_ticket():
    arrivals = [(NOW, ["login", "login", "LOGIN"], ["auth", "auth"])] * 20
    signals = {(s.kind, s.key): s.recent for s in detect_floods(arrivals, now=NOW)}
    assert signals == {("tag", "login"): 20, ("tag", "LOGIN"): 20, ("service", "auth"): 20}


def test_window_and_baseline_edges():
    since = DEFAULTS.since(NOW)
    edges = tagged([WINDOW_START, NOW] + [NOW - timedelta(minutes=1)] * 18, "edge")  # 20 in the window
    edges += tagged([since, WINDOW_START - timedelta(microseconds=1)], "edge")  # 2 in the baseline
    edges += tagged([since - timedelta(microseconds=1), NOW + timedelta(microseconds=1)], "edge")  # ignored
    [signal] = detect_floods(edges, now=NOW)
    assert (signal.recent, signal.baseline) == (20, 2)
    assert (signal.first_at, signal.last_at) == (WINDOW_START, NOW)


def test_thresholds_from_config_change_the_outcome():
    burst = tagged([NOW - timedelta(minutes=1)] * 12, "vpn")
    assert detect_floods(burst, now=NOW) == []
    lenient = FloodSettings.from_mapping({"FLOOD_MIN_TICKETS": "10", "FLOOD_FACTOR": "3"})
    assert [s.key for s in detect_floods(burst, now=NOW, settings=lenient)] == ["vpn"]
    strict = FloodSettings.from_mapping({"FLOOD_MIN_TICKETS": 10, "FLOOD_MIN_BASELINE_PER_HOUR": 20})
    assert detect_floods(burst, now=NOW, settings=strict) == []  # 48/h is not 5 x 20/h


def test_window_and_baseline_lengths_from_config():
    settings = FloodSettings.from_mapping({"FLOOD_WINDOW_MINUTES": "5", "FLOOD_BASELINE_HOURS": 2})
    assert settings.since(NOW) == NOW - timedelta(hours=2, minutes=5)
    burst = tagged([NOW - timedelta(minutes=8)] * 25, "vpn")  # inside 15 minutes, outside 5
    assert detect_floods(burst, now=NOW) != []
    assert detect_floods(burst, now=NOW, settings=settings) == []  # a 5-minute window: the burst is baseline


def test_from_mapping_defaults_and_parsing():
    assert FloodSettings.from_mapping({}) == FloodSettings()
    assert FloodSettings.from_mapping({"FLOOD_FACTOR": None, "OTHER": "x"}) == FloodSettings()
    parsed = FloodSettings.from_mapping({"FLOOD_WINDOW_MINUTES": " 30 ", "FLOOD_BASELINE_HOURS": 12.0,
                                         "FLOOD_FACTOR": "2.5", "FLOOD_MIN_TICKETS": "50",
                                         "FLOOD_MIN_BASELINE_PER_HOUR": "0.5"})
    assert parsed == FloodSettings(window_minutes=30, baseline_hours=12, factor=2.5, min_tickets=50,
                                   min_baseline_per_hour=0.5)
    assert isinstance(parsed.baseline_hours, int)


@pytest.mark.parametrize("key, value", [
    ("FLOOD_WINDOW_MINUTES", "fifteen"), ("FLOOD_WINDOW_MINUTES", "7.5"), ("FLOOD_BASELINE_HOURS", 0),
    ("FLOOD_FACTOR", "-1"), ("FLOOD_FACTOR", "nan"), ("FLOOD_MIN_TICKETS", True),
    ("FLOOD_MIN_BASELINE_PER_HOUR", "0"), ("FLOOD_MIN_BASELINE_PER_HOUR", ""), ("FLOOD_FACTOR", [5]),
])
def test_from_mapping_rejects_invalid_values_naming_the_key(key, value):
    with pytest.raises(ValueError, match=key):
        FloodSettings.from_mapping({key: value})


def test_settings_refuse_nonsense_directly():
    with pytest.raises(ValueError, match="factor"):
        FloodSettings(factor=0)
    with pytest.raises(ValueError, match="min_tickets"):
        FloodSettings(min_tickets=2.5)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="now"):
        detect_floods([], now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="created_at"):
        detect_floods([(NOW.replace(tzinfo=None), ["a"], [])], now=NOW)


def test_a_bare_string_of_tags_is_refused():
    with pytest.raises(TypeError, match="collections"):
        detect_floods([(NOW, "login", [])], now=NOW)


def test_signals_are_ordered_strongest_first():
    minute_ago = NOW - timedelta(minutes=1)
    arrivals = tagged([minute_ago] * 100, services=["mail"])  # ratio 400
    arrivals += tagged([minute_ago] * 40, "sso")  # ratio 160 over a 2/h baseline...
    arrivals += tagged([WINDOW_START - timedelta(minutes=1 + 30 * i) for i in range(48)], "sso")  # ...so 80
    arrivals += tagged([minute_ago] * 20, "vpn")  # new: 80/h over the 1/h floor, ratio 80 with fewer tickets
    arrivals += tagged([minute_ago] * 30, "wifi")  # ratio 120
    signals = detect_floods(arrivals, now=NOW)
    assert [(s.key, s.ratio, s.recent) for s in signals] == [
        ("mail", 400.0, 100), ("wifi", 120.0, 30), ("sso", 80.0, 40), ("vpn", 80.0, 20)]


def poisson_stream(rng: random.Random, *, per_hour: float, start: datetime, end: datetime):
    """Creation times of a Poisson process: exponential gaps at the given mean rate."""
    times, t = [], start
    while True:
        t += timedelta(hours=rng.expovariate(per_hour))
        if t >= end:
            return times
        times.append(t)


def test_a_steady_random_stream_over_days_raises_no_false_alarm():
    rng = random.Random(20261125)
    start, days = NOW - timedelta(days=4), 4
    rates = {"billing": 120, "login": 30, "vpn": 12, "printer": 3, "rare": 0.3}
    arrivals = []
    for tag, rate in rates.items():
        services = [f"{tag}-svc"]
        arrivals += tagged(poisson_stream(rng, per_hour=rate, start=start, end=NOW), tag, services=services)
    arrivals.sort(key=lambda a: a[0])
    times = [a[0] for a in arrivals]

    checked = 0
    now = start + DEFAULTS.baseline + DEFAULTS.window
    while now <= NOW:  # every 10 minutes for three days, as the worker would
        lo, hi = bisect.bisect_left(times, DEFAULTS.since(now)), bisect.bisect_right(times, now)
        assert detect_floods(arrivals[lo:hi], now=now) == [], now
        now += timedelta(minutes=10)
        checked += 1
    assert checked == 431 and len(arrivals) > days * 24 * 150  # three days less the first window


def test_a_flood_on_top_of_the_random_stream_is_found():
    rng = random.Random(7)
    arrivals = tagged(poisson_stream(rng, per_hour=30, start=DEFAULTS.since(NOW), end=NOW), "login")
    arrivals += tagged([NOW - timedelta(seconds=5 * i) for i in range(150)], "login")  # 150 in 12.5 minutes
    [signal] = detect_floods(arrivals, now=NOW)
    assert signal.key == "login" and signal.ratio > 15
