"""What a report covers and how its figures are labelled: pure rules, `now` passed in.

A report is about the incidents *declared* in a period (`since` ≤ declared_at < `until`), narrowed
by severity, service and tag; README ("Reports") defines every figure in words.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from ..tickets.policy import normalize_tag
from ..validation import normalize_slug, parse_instant
from ..vocabulary import Severity

DEFAULT_DAYS = 90
MAX_DAYS = 731           # two years (one of them may be a leap year); a longer period is refused
PERCENTILES = (50, 90)   # the median and p90 of every duration
TOP = 10                 # top tags and services shown
SEVERITIES = tuple(Severity)


class ReportParamsInvalid(ValueError):
    """Query parameters that make no sense; `details` names each one and why."""

    def __init__(self, details: dict[str, str]):
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in details.items()))
        self.details = details


@dataclass(frozen=True)
class ReportFilter:
    """Which incidents a report is about: declared in [since, until), of these severities (any), on
    this service, with a linked ticket carrying this tag."""

    since: datetime
    until: datetime
    severities: tuple[str, ...] = ()
    service: str | None = None
    tag: str | None = None
    explicit: dict[str, str] = field(default_factory=dict, compare=False)  # as given, for links back

    def as_args(self) -> dict[str, Any]:
        """Query parameters that select the same incidents (for links to the list, the CSV, the API)."""
        args: dict[str, Any] = {"since": _instant_text(self.since), "until": _instant_text(self.until)}
        if self.severities:
            args["severity"] = list(self.severities)
        if self.service:
            args["service"] = self.service
        if self.tag:
            args["tag"] = self.tag
        return args

    def period_text(self) -> str:
        """The period as people read it: whole days as days (both included), else times (until excluded)."""
        if self.since.time() == time(0) and self.until.time() == time(0):
            last = self.until - timedelta(days=1)
            return f"{self.since:%Y-%m-%d} to {last:%Y-%m-%d} (UTC)"
        return f"{self.since:%Y-%m-%d %H:%M} to {self.until:%Y-%m-%d %H:%M} UTC (excluded)"

    def describe(self) -> str:
        """The filter in words, for the page and the CSV's name."""
        parts = [", ".join(self.severities)] if self.severities else []
        parts += [f"service {self.service}"] if self.service else []
        parts += [f"tag {self.tag}"] if self.tag else []
        return " · ".join(parts) or "all incidents"


def _end_of_day(now: datetime) -> datetime:
    """00:00 UTC of the day after `now`."""
    return datetime.combine(now.astimezone(timezone.utc).date() + timedelta(days=1), time(0), tzinfo=timezone.utc)


def _instant_text(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds")


def parse_filter(args: Mapping[str, str | Iterable[str]], *, now: datetime) -> ReportFilter:
    """A ReportFilter from query parameters (each a value or a list of values, as `args.lists()` gives).

    since / until: ISO 8601 with an offset, or a date (since: its start, 00:00 UTC; until: its end,
    i.e. 00:00 UTC the day after). Defaults: until the end of today (UTC), since 90 days before until
    (so the last 90 whole days, today included). severity:
    repeatable or comma-separated, any of them. service, tag: one each. Everything wrong is
    reported at once (ReportParamsInvalid).
    """
    values = {key: [v.strip() for v in ([vals] if isinstance(vals, str) else vals) if v.strip()]
              for key, vals in args.items()}
    problems: dict[str, str] = {}
    since = parse_instant(values.get("since", []), "since", problems, end_of_day=False)
    until = parse_instant(values.get("until", []), "until", problems, end_of_day=True)
    severities = _severities(values.get("severity", []), problems)
    service = _one(values.get("service", []), "service", normalize_slug, problems)
    tag = _one(values.get("tag", []), "tag", normalize_tag, problems)
    if "since" not in problems and "until" not in problems:
        until = until or _end_of_day(now)
        since = since or until - timedelta(days=DEFAULT_DAYS)
        if until <= since:
            problems["until"] = f"must be after since ({_instant_text(since)})"
        elif until - since > timedelta(days=MAX_DAYS):
            problems["until"] = (f"the period is {(until - since).days} days; at most {MAX_DAYS} days "
                                 "(two years) per report")
    if problems:
        raise ReportParamsInvalid(problems)
    assert since is not None and until is not None
    explicit = {key: ",".join(vals) for key, vals in values.items()
                if key in ("since", "until", "severity", "service", "tag") and vals}
    return ReportFilter(since=since, until=until, severities=severities, service=service, tag=tag,
                        explicit=explicit)


def _severities(raw: list[str], problems: dict[str, str]) -> tuple[str, ...]:
    wanted = [part.strip().upper() for value in raw for part in value.split(",") if part.strip()]
    unknown = [w for w in wanted if w not in SEVERITIES]
    if unknown:
        problems["severity"] = f"unknown severity {unknown[0][:20]!r}; one of {', '.join(SEVERITIES)}"
        return ()
    return tuple(s for s in SEVERITIES if s in wanted)


def _one(raw: list[str], name: str, normalize, problems: dict[str, str]) -> str | None:
    if not raw:
        return None
    if len(raw) > 1:
        problems[name] = "one at a time"
        return None
    try:
        return normalize(raw[0])
    except ValueError as error:
        problems[name] = str(error)
        return None


# Weeks --------------------------------------------------------------------------------------------

def week_start(day: date) -> date:
    """The Monday of the ISO week `day` is in."""
    return day - timedelta(days=day.weekday())


def week_label(monday: date) -> str:
    """ISO week as people write it: 2026-W48."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def weeks_of(since: datetime, until: datetime) -> list[date]:
    """The Mondays of every ISO week (UTC) the period [since, until) touches, oldest first."""
    first = week_start(since.astimezone(timezone.utc).date())
    last = week_start((until.astimezone(timezone.utc) - timedelta(microseconds=1)).date())
    return [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]


# Percentiles, as the SQL computes them (a reference for tests and for anyone checking by hand) ---

def percentile(values: Iterable[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont, numpy's default):
    the value at position p/100 × (n − 1) of the sorted values."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * p / 100
    low = int(position)
    fraction = position - low
    high = ordered[min(low + 1, len(ordered) - 1)]
    return ordered[low] + (high - ordered[low]) * fraction


def share(part: int, whole: int) -> float:
    """part / whole, rounded for people (0 when there is no whole)."""
    return round(part / whole, 4) if whole else 0.0
