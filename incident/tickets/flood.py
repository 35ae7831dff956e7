"""Flood detection: tickets sharing a tag or service arriving far above their baseline rate.

Pure functions: the caller queries the arrivals since `settings.since(now)` and passes `now`.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, SupportsFloat, cast

KINDS = ("tag", "service")

# field name -> (config key, type); the key names the setting in error messages
_CONFIG_KEYS = {
    "window_minutes": ("FLOOD_WINDOW_MINUTES", int),
    "baseline_hours": ("FLOOD_BASELINE_HOURS", int),
    "factor": ("FLOOD_FACTOR", float),
    "min_tickets": ("FLOOD_MIN_TICKETS", int),
    "min_baseline_per_hour": ("FLOOD_MIN_BASELINE_PER_HOUR", float),
}


@dataclass(frozen=True)
class FloodSettings:
    """Thresholds for calling a burst of tickets a possible outage."""

    window_minutes: int = 15
    baseline_hours: int = 24
    factor: float = 5.0
    min_tickets: int = 20
    # floor for the baseline rate: a brand-new tag needs min_tickets AND factor x this floor
    min_baseline_per_hour: float = 1.0

    def __post_init__(self) -> None:
        for item in fields(self):
            _check(item.name, getattr(self, item.name), _CONFIG_KEYS[item.name][1])

    @classmethod
    def from_mapping(cls, config: Mapping[str, object]) -> FloodSettings:
        """Settings from FLOOD_* keys (app config or environment); missing keys keep defaults."""
        values: dict[str, Any] = {}
        for name, (key, kind) in _CONFIG_KEYS.items():
            if config.get(key) is not None:
                values[name] = _parse(key, config[key], kind)
        return cls(**values)

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    @property
    def baseline(self) -> timedelta:
        return timedelta(hours=self.baseline_hours)

    def since(self, now: datetime) -> datetime:
        """The earliest creation time detection needs: the start of the baseline period."""
        return now - self.window - self.baseline


def _parse(key: str, raw: object, kind: type) -> int | float:
    """A positive number of `kind` from a config value such as 5, 5.0 or "5"; ValueError names `key`."""
    if isinstance(raw, bool):
        raise ValueError(f"{key} must be a number, got {raw!r}")
    try:
        number = float(raw.strip()) if isinstance(raw, str) else float(cast(SupportsFloat, raw))
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number, got {raw!r}") from None
    if kind is int:
        if not number.is_integer():
            raise ValueError(f"{key} must be a whole number, got {raw!r}")
        number = int(number)
    _check(key, number, kind)
    return number


def _check(name: str, value: object, kind: type) -> None:
    """Refuse a setting that is not a finite positive number of the right kind."""
    allowed = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise ValueError(f"{name} must be a {'whole ' if kind is int else ''}number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")


@dataclass(frozen=True)
class FloodSignal:
    """One tag or service arriving at several times its baseline rate."""

    kind: str  # "tag" or "service"
    key: str  # the tag or service name
    recent: int  # tickets in the window
    baseline: int  # tickets in the baseline period
    recent_per_hour: float
    baseline_per_hour: float  # after applying the floor
    ratio: float  # recent_per_hour / baseline_per_hour
    window_start: datetime
    first_at: datetime  # earliest ticket of this key in the window
    last_at: datetime


@dataclass
class _Tally:
    recent: int = 0
    baseline: int = 0
    times: list[datetime] = field(default_factory=list)  # window arrivals only


def detect_floods(arrivals: Iterable[tuple[datetime, Iterable[str], Iterable[str]]], *, now: datetime,
                  settings: FloodSettings = FloodSettings()) -> list[FloodSignal]:
    """Tags and services flooding at `now`, strongest first (highest ratio, then most recent tickets).

    arrivals: (created_at, tags, services) of the tickets created in [settings.since(now), now];
    anything outside that range is ignored.
    """
    _require_aware(now, "now")
    window_start = now - settings.window
    tallies = _tally(arrivals, now=now, window_start=window_start, baseline_start=settings.since(now))
    signals = [_signal(kind, key, tally, settings, window_start)
               for (kind, key), tally in tallies.items() if tally.recent]
    flooding = [s for s in signals if _is_flood(s, settings)]
    return sorted(flooding, key=lambda s: (-s.ratio, -s.recent, s.kind, s.key))


def _tally(arrivals, *, now: datetime, window_start: datetime,
           baseline_start: datetime) -> dict[tuple[str, str], _Tally]:
    """Count each ticket once per distinct tag and service, in the window or the baseline."""
    tallies: dict[tuple[str, str], _Tally] = {}
    for created_at, tags, services in arrivals:
        _require_aware(created_at, "created_at")
        in_window = window_start <= created_at <= now
        if not in_window and not baseline_start <= created_at < window_start:
            continue
        for kind, names in zip(KINDS, (tags, services), strict=True):
            for name in _distinct(names):
                tally = tallies.setdefault((kind, name), _Tally())
                if in_window:
                    tally.recent += 1
                    tally.times.append(created_at)
                else:
                    tally.baseline += 1
    return tallies


def _distinct(names: Iterable[str]) -> set[str]:
    """The non-empty names, once each; a bare string is a caller's mistake, not a list of letters."""
    if isinstance(names, str):
        raise TypeError(f"tags and services must be collections of names, got the string {names!r}")
    return {name for name in names if name}


def _signal(kind: str, key: str, tally: _Tally, settings: FloodSettings,
            window_start: datetime) -> FloodSignal:
    """Rates and ratio for one key; the baseline rate never drops below the configured floor."""
    recent_per_hour = tally.recent * 60 / settings.window_minutes
    baseline_per_hour = max(tally.baseline / settings.baseline_hours, settings.min_baseline_per_hour)
    return FloodSignal(kind=kind, key=key, recent=tally.recent, baseline=tally.baseline,
                       recent_per_hour=recent_per_hour, baseline_per_hour=baseline_per_hour,
                       ratio=recent_per_hour / baseline_per_hour, window_start=window_start,
                       first_at=min(tally.times), last_at=max(tally.times))


def _is_flood(signal: FloodSignal, settings: FloodSettings) -> bool:
    """Enough tickets, and a rate at least `factor` times the (floored) baseline rate."""
    return signal.recent >= settings.min_tickets and signal.ratio >= settings.factor


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got {value!r}")
