"""Reports' pure parts: the period and filters, ISO weeks, percentiles, durations in words, the charts."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from incident.reports.charts import Bar, Point, bars_svg, channels_svg, human_duration, trend_svg
from incident.reports.policy import (
    ReportParamsInvalid,
    parse_filter,
    percentile,
    week_label,
    weeks_of,
)

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=timezone.utc)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def test_the_default_is_the_last_ninety_whole_days_today_included():
    f = parse_filter({}, now=NOW)
    assert (f.since, f.until) == (utc(2026, 8, 25), utc(2026, 11, 23))
    only_since = parse_filter({"since": "2026-11-01"}, now=NOW)
    assert (only_since.since, only_since.until) == (utc(2026, 11, 1), utc(2026, 11, 23))
    only_until = parse_filter({"until": "2026-10-31"}, now=NOW)
    assert (only_until.since, only_until.until) == (utc(2026, 8, 3), utc(2026, 11, 1))


def test_filters_are_read_and_normalised():
    f = parse_filter({"severity": ["sev2", "SEV1,SEV2"], "service": [" Login "], "tag": ["EU West"]}, now=NOW)
    assert (f.severities, f.service, f.tag) == (("SEV1", "SEV2"), "login", "eu_west")
    assert f.describe() == "SEV1, SEV2 · service login · tag eu_west"
    assert f.as_args() == {"since": "2026-08-25T00:00:00+00:00", "until": "2026-11-23T00:00:00+00:00",
                           "severity": ["SEV1", "SEV2"], "service": "login", "tag": "eu_west"}
    assert parse_filter({"severity": [""], "service": [""], "tag": ["  "]}, now=NOW).describe() == "all incidents"


def test_the_longest_period_is_two_years():
    assert parse_filter({"since": "2024-11-22", "until": "2026-11-22"}, now=NOW).since == utc(2024, 11, 22)
    with pytest.raises(ReportParamsInvalid) as error:
        parse_filter({"since": "2024-11-21", "until": "2026-11-22"}, now=NOW)
    assert error.value.details == {"until": "the period is 732 days; at most 731 days (two years) per report"}


def test_a_far_offset_or_an_overflowing_time_is_refused_not_a_crash():
    with pytest.raises(ReportParamsInvalid) as error:
        parse_filter({"since": "0001-01-01T00:00:00+14:00", "until": "9999-12-31T23:59:59-14:00"}, now=NOW)
    assert set(error.value.details) == {"since", "until"}


def test_iso_weeks_run_monday_to_sunday_in_utc():
    assert weeks_of(utc(2026, 11, 22, 23, 59), utc(2026, 11, 23, 0, 0, 1)) == [date(2026, 11, 16), date(2026, 11, 23)]
    assert weeks_of(utc(2026, 11, 16), utc(2026, 11, 23)) == [date(2026, 11, 16)]   # until is excluded
    assert week_label(date(2026, 12, 28)) == "2026-W53" and week_label(date(2027, 1, 4)) == "2027-W01"
    assert week_label(date(2024, 12, 30)) == "2025-W01"   # the ISO year, not the calendar year


def test_percentiles_interpolate_between_closest_ranks():
    assert percentile([], 50) is None
    assert percentile([7], 90) == 7
    assert percentile([4200, 600, 1200], 50) == 1200
    assert percentile([600, 1200, 4200], 90) == pytest.approx(3600)
    assert percentile([0, 1, 2, 3], 50) == 1.5


def test_durations_read_as_a_support_lead_would_say_them():
    assert [human_duration(s) for s in (None, 0, 44.6, 60, 1500, 3600, 10_860, 172_800 + 3600 * 5)] == [
        "—", "0 s", "45 s", "1 min", "25 min", "1 h 00 min", "3 h 01 min", "2 d 5 h"]


def test_the_trend_chart_links_its_points_and_leaves_gaps():
    svg = str(trend_svg([Point("2026-W47", 600, "median of 2 incidents", "/incidents?a=1&b=<2>"),
                         Point("2026-W48", None), Point("2026-W49", 1200, "", "/incidents?c=3"),
                         Point("2026-W50", 900)], label="MTTA <per week>", chart_id="t"))
    assert svg.count("<polyline") == 1                      # W47 stands alone before the gap; W49–W50 join
    assert svg.count("<circle") == 3
    assert '<a href="/incidents?a=1&amp;b=&lt;2&gt;">' in svg and "MTTA &lt;per week&gt;" in svg
    assert "2026-W47: 10 min — median of 2 incidents" in svg
    assert "No values" in str(trend_svg([Point("W1", None)], label="x", chart_id="e"))


def test_bars_and_channels_escape_their_labels():
    svg = str(bars_svg([Bar("<script>", 4, "4 tickets", "/incidents?tag=x"), Bar("b", 1, "1 ticket")],
                       label="Top tags", chart_id="b"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and svg.count('class="bar"') == 2
    channels = str(channels_svg({"sms": {"sent": 3, "delivered": 1, "failed": 1, "fell_back": 0}},
                                chart_id="c", hrefs={"sms": "/incidents?channel=sms"}))
    assert "sms: 3 sent, 1 delivered, 1 failed, 0 fell back" in channels
    assert '<a href="/incidents?channel=sms">' in channels
    assert "No broadcast messages" in str(channels_svg({}, chart_id="d"))


def test_the_period_reads_as_days_when_it_is_whole_days():
    assert parse_filter({"since": "2026-11-01", "until": "2026-11-30"}, now=NOW).period_text() == (
        "2026-11-01 to 2026-11-30 (UTC)")
    assert parse_filter({"since": "2026-11-01T08:00:00+01:00", "until": "2026-11-02"}, now=NOW).period_text() == (
        "2026-11-01 07:00 to 2026-11-03 00:00 UTC (excluded)")
