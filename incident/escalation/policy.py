"""Escalation policies, on-call rotations and the paging schedule. Pure: `now` comes in as an argument.

Every datetime taken in must be timezone-aware; every datetime handed back is in UTC, so that
arithmetic on it is exact across daylight-saving changes. Business hours are the one place where
wall-clock time matters, and they are evaluated in their own IANA timezone.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..incidents.policy import SEVERITIES
from ..validation import normalize_slug
from ..vocabulary import PageChannel

CHANNELS = tuple(channel.value for channel in PageChannel)
MIN_TIMEOUT, MAX_TIMEOUT = 5, 30 * 24 * 3600
MAX_REPEAT = 9
MODES = ("tiered", "swarm")
TARGET_KINDS = ("user", "rotation", "slack_channel")
OUTSIDE_BUSINESS_HOURS = "outside business hours"
NOBODY_ON_CALL = "nobody on call"


class PolicyError(ValueError):
    """An invalid policy, rotation or request; `details` maps a field path to what is wrong with it."""

    def __init__(self, message: str, details: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})


def _utc(value: datetime, field: str = "at") -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise PolicyError("datetimes must be timezone-aware", {field: "must be a timezone-aware datetime"})
    return value.astimezone(timezone.utc)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text_problem(value) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must be a non-empty string"


def _timeout_problem(value) -> str | None:
    if _is_int(value) and MIN_TIMEOUT <= value <= MAX_TIMEOUT:
        return None
    return f"must be a whole number of seconds from {MIN_TIMEOUT} to {MAX_TIMEOUT} (30 days)"


def _channels_problem(value) -> str | None:
    if not isinstance(value, (list, tuple)) or not value:
        return f"must be a non-empty list of {', '.join(CHANNELS)}"
    for channel in value:
        if channel not in CHANNELS:
            return f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}"
    if len(set(value)) != len(value):
        return "a channel is listed twice"
    return None


def _repeat_problem(value) -> str | None:
    return None if _is_int(value) and 0 <= value <= MAX_REPEAT else f"must be a whole number from 0 to {MAX_REPEAT}"


def _timezone_problem(name) -> str | None:
    if not isinstance(name, str) or not name:
        return "must be an IANA timezone name such as Europe/Rome"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown timezone {name!r}"
    return None


def _raise_if(problems: dict[str, str], message: str) -> None:
    if problems:
        raise PolicyError(message, problems)


# ---------------------------------------------------------------- business hours

@dataclass(frozen=True)
class BusinessHours:
    timezone: str = "UTC"
    days: tuple[int, ...] = (0, 1, 2, 3, 4)   # Monday = 0
    start: time = time(9, 0)
    end: time = time(18, 0)

    def __post_init__(self):
        problems = {}
        if p := _timezone_problem(self.timezone):
            problems["timezone"] = p
        if not self.days or not all(_is_int(d) and 0 <= d <= 6 for d in self.days):
            problems["days"] = "must be a non-empty list of weekdays from 0 (Monday) to 6 (Sunday)"
        if not isinstance(self.start, time) or not isinstance(self.end, time):
            problems["start"] = "start and end must be times of day"
        elif self.start >= self.end:
            problems["end"] = "must be later than start"
        _raise_if(problems, "invalid business hours")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def contains(self, at: datetime) -> bool:
        """Whether `at` falls on a business day between start (inclusive) and end (exclusive), local time."""
        local = _utc(at).astimezone(self.zone)
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def next_open(self, at: datetime) -> datetime:
        """The first moment at or after `at` inside business hours, in UTC."""
        at = _utc(at)
        if self.contains(at):
            return at
        today = at.astimezone(self.zone).date()
        for offset in range(8):
            day = today + timedelta(days=offset)
            if day.weekday() in self.days:
                opening = self._opening(day)
                if opening >= at:
                    return opening
        raise AssertionError("unreachable: a week always holds a business day")  # pragma: no cover

    def _opening(self, day: date) -> datetime:
        # A start inside a spring-forward gap resolves to the first real instant after it.
        return datetime.combine(day, self.start, tzinfo=self.zone).astimezone(timezone.utc)

    def to_dict(self) -> dict:
        return {"timezone": self.timezone, "days": list(self.days),
                "start": self.start.isoformat("minutes"), "end": self.end.isoformat("minutes")}


def _business_hours_from_dict(raw, path: str, errors: dict[str, str]) -> BusinessHours | None:
    if not isinstance(raw, Mapping):
        errors[path] = "must be an object with timezone, days, start and end"
        return None
    local: dict[str, str] = {}
    for key in raw.keys() - {"timezone", "days", "start", "end"}:
        local[key] = "unknown field"
    days = raw.get("days", list(BusinessHours.days))
    if not isinstance(days, list) or not days or not all(_is_int(d) and 0 <= d <= 6 for d in days):
        local["days"] = "must be a non-empty list of weekdays from 0 (Monday) to 6 (Sunday)"
    times = {}
    for key, default in (("start", "09:00"), ("end", "18:00")):
        try:
            times[key] = time.fromisoformat(raw.get(key, default))
            if times[key].tzinfo is not None:
                raise ValueError
        except (TypeError, ValueError):
            local[key] = "must be a time of day such as 09:00"
    timezone_name = raw.get("timezone", "UTC")
    if p := _timezone_problem(timezone_name):
        local["timezone"] = p
    if not local and times["start"] >= times["end"]:
        local["end"] = "must be later than start"
    if local:
        errors.update({f"{path}.{key}": message for key, message in local.items()})
        return None
    return BusinessHours(timezone_name, tuple(sorted(set(days))), times["start"], times["end"])


# ---------------------------------------------------------------- policies

@dataclass(frozen=True)
class Target:
    user: str | None = None           # staff email
    rotation: str | None = None       # rotation name
    slack_channel: str | None = None  # a Slack channel id, e.g. C0ONCALL

    def __post_init__(self):
        given = [kind for kind in TARGET_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise PolicyError("invalid target", {"": f"a target has exactly one of {', '.join(TARGET_KINDS)}"})
        if p := _text_problem(getattr(self, given[0])):
            raise PolicyError("invalid target", {given[0]: p})

    @property
    def kind(self) -> str:
        return next(kind for kind in TARGET_KINDS if getattr(self, kind) is not None)

    def to_dict(self) -> dict:
        return {self.kind: getattr(self, self.kind)}

    @classmethod
    def from_dict(cls, raw) -> Target:
        if not isinstance(raw, Mapping) or len(raw) != 1 or next(iter(raw)) not in TARGET_KINDS:
            raise PolicyError("invalid target", {"": f"a target has exactly one of {', '.join(TARGET_KINDS)}"})
        return cls(**raw)


@dataclass(frozen=True)
class Level:
    name: str
    targets: tuple[Target, ...]
    ack_timeout_seconds: int
    channels: tuple[str, ...] = ("slack", "sms")
    business_hours: BusinessHours | None = None   # outside them the level is skipped

    def __post_init__(self):
        problems = {}
        if p := _text_problem(self.name):
            problems["name"] = p
        if not self.targets:
            problems["targets"] = "at least one target is needed"
        if p := _timeout_problem(self.ack_timeout_seconds):
            problems["ack_timeout_seconds"] = p
        if p := _channels_problem(self.channels):
            problems["channels"] = p
        _raise_if(problems, f"invalid escalation level {self.name!r}")

    @property
    def ack_timeout(self) -> timedelta:
        return timedelta(seconds=self.ack_timeout_seconds)

    def to_dict(self) -> dict:
        out = {"name": self.name, "targets": [t.to_dict() for t in self.targets],
               "ack_timeout_seconds": self.ack_timeout_seconds, "channels": list(self.channels)}
        if self.business_hours is not None:
            out["business_hours"] = self.business_hours.to_dict()
        return out


_LEVEL_FIELDS = {"name", "targets", "ack_timeout_seconds", "channels", "business_hours"}


def _level_from_dict(raw, path: str, errors: dict[str, str]) -> Level | None:
    if not isinstance(raw, Mapping):
        errors[path] = "must be an object"
        return None
    local: dict[str, str] = {key: "unknown field" for key in raw.keys() - _LEVEL_FIELDS}
    if p := _text_problem(raw.get("name")):
        local["name"] = p
    targets = []
    raw_targets = raw.get("targets")
    if not isinstance(raw_targets, list) or not raw_targets:
        local["targets"] = "at least one target is needed"
    else:
        for j, raw_target in enumerate(raw_targets):
            try:
                targets.append(Target.from_dict(raw_target))
            except PolicyError as error:
                local[f"targets.{j}"] = next(iter(error.details.values()))
    if p := _timeout_problem(raw.get("ack_timeout_seconds")):
        local["ack_timeout_seconds"] = p
    channels = raw.get("channels", list(Level.channels))
    if p := _channels_problem(channels):
        local["channels"] = p
    hours = None
    if raw.get("business_hours") is not None:
        hours = _business_hours_from_dict(raw["business_hours"], f"{path}.business_hours", errors)
    errors.update({f"{path}.{key}": message for key, message in local.items()})
    if local or (raw.get("business_hours") is not None and hours is None):
        return None
    return Level(raw["name"], tuple(targets), raw["ack_timeout_seconds"], tuple(channels), hours)


@dataclass(frozen=True)
class Policy:
    name: str
    levels: tuple[Level, ...]
    repeat: int = 0                   # extra rounds after the first pass (0..9)

    def __post_init__(self):
        problems = {}
        if p := _text_problem(self.name):
            problems["name"] = p
        if not self.levels:
            problems["levels"] = "at least one level is needed"
        seen = set()
        for i, level in enumerate(self.levels):
            if level.name in seen:
                problems[f"levels.{i}.name"] = f"duplicate level name {level.name!r}"
            seen.add(level.name)
        if p := _repeat_problem(self.repeat):
            problems["repeat"] = p
        _raise_if(problems, f"invalid escalation policy {self.name!r}")

    def index_of(self, level_name: str) -> int:
        """The position of the level called `level_name`."""
        for i, level in enumerate(self.levels):
            if level.name == level_name:
                return i
        raise PolicyError(f"no level {level_name!r} in policy {self.name!r}", {"level": "unknown level"})

    def to_dict(self) -> dict:
        return {"name": self.name, "levels": [level.to_dict() for level in self.levels], "repeat": self.repeat}

    @classmethod
    def from_dict(cls, name: str, data: dict) -> Policy:
        """Parse the API shape; every problem found is reported at once in `details`."""
        if not isinstance(data, Mapping):
            raise PolicyError("invalid escalation policy", {"": "must be an object with levels and repeat"})
        errors: dict[str, str] = {key: "unknown field" for key in data.keys() - {"name", "levels", "repeat"}}
        if p := _text_problem(name):
            errors["name"] = p
        elif "name" in data and data["name"] != name:
            errors["name"] = f"does not match the policy being saved ({name!r})"
        levels: list[Level] = []
        raw_levels = data.get("levels")
        if not isinstance(raw_levels, list) or not raw_levels:
            errors["levels"] = "at least one level is needed"
        else:
            seen = set()
            for i, raw in enumerate(raw_levels):
                level = _level_from_dict(raw, f"levels.{i}", errors)
                if level is not None:  # else its problems are in errors, raised below
                    levels.append(level)
                level_name = raw.get("name") if isinstance(raw, Mapping) else None
                if isinstance(level_name, str):
                    if level_name in seen:
                        errors[f"levels.{i}.name"] = f"duplicate level name {level_name!r}"
                    seen.add(level_name)
        repeat = data.get("repeat", 0)
        if p := _repeat_problem(repeat):
            errors["repeat"] = p
        _raise_if(errors, "invalid escalation policy")
        return cls(name, tuple(levels), repeat)


def applies_to_from_dict(raw) -> tuple[list[str], list[str]]:
    """The severities and services a policy covers (`applies_to`), sorted and each once."""
    if raw is None:
        return [], []
    if not isinstance(raw, Mapping):
        raise PolicyError("invalid escalation policy", {"applies_to": "must be an object with severities and services"})
    errors = {f"applies_to.{key}": "unknown field" for key in raw.keys() - {"severities", "services"}}
    severities, services = raw.get("severities", []), raw.get("services", [])
    if not isinstance(severities, list) or not all(severity in SEVERITIES for severity in severities):
        errors["applies_to.severities"] = f"must be a list of {', '.join(SEVERITIES)}"
    try:
        services = [normalize_slug(service) for service in services] if isinstance(services, list) else None
    except (AttributeError, ValueError):   # not a string, or a string that is no service name
        services = None
    if services is None:
        errors["applies_to.services"] = "must be a list of service names (lowercase letters, digits, '.', '_', '-')"
    _raise_if(errors, "invalid escalation policy")
    return sorted(set(severities)), sorted(set(services))


# ---------------------------------------------------------------- rotations

@dataclass(frozen=True)
class Override:
    user: str
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self):
        if p := _text_problem(self.user):
            raise PolicyError("invalid override", {"user": p})
        if _utc(self.ends_at, "ends_at") <= _utc(self.starts_at, "starts_at"):
            raise PolicyError("invalid override", {"ends_at": "must be later than starts_at"})

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True)
class Rotation:
    name: str
    users: tuple[str, ...]            # in order; at least one
    shift_hours: float                # > 0
    starts_at: datetime               # timezone-aware; the first user's shift starts here
    overrides: tuple[Override, ...] = ()
    # None: shifts are fixed lengths of real time. An IANA name: shifts are lengths of wall-clock
    # time there, so a 09:00 hand-over stays at 09:00 local across daylight-saving changes (the
    # shift that spans the change is an hour shorter or longer).
    timezone: str | None = None

    def __post_init__(self):
        problems = {}
        if p := _text_problem(self.name):
            problems["name"] = p
        if not self.users or any(_text_problem(user) for user in self.users):
            problems["users"] = "must be a non-empty list of staff emails"
        if isinstance(self.shift_hours, bool) or not isinstance(self.shift_hours, (int, float)) \
                or not self.shift_hours > 0:
            problems["shift_hours"] = "must be a number of hours greater than 0"
        if self.timezone is not None and (p := _timezone_problem(self.timezone)):
            problems["timezone"] = p
        _utc(self.starts_at, "starts_at")
        _raise_if(problems, f"invalid rotation {self.name!r}")

    @property
    def shift(self) -> timedelta:
        return timedelta(hours=self.shift_hours)

    def clock(self, at: datetime) -> datetime:
        """`at` on the rotation's own clock: UTC, or naive wall-clock time in its timezone."""
        at = _utc(at)
        return at if self.timezone is None else at.astimezone(ZoneInfo(self.timezone)).replace(tzinfo=None)

    def instant(self, reading: datetime) -> datetime:
        """The UTC instant of a reading of the rotation's clock (a wall time that happens twice: the first)."""
        return reading if self.timezone is None else reading.replace(tzinfo=ZoneInfo(self.timezone)).astimezone(timezone.utc)


def _scheduled(rotation: Rotation, at: datetime) -> str | None:
    """The rotation's own answer at `at`, overrides aside."""
    if _utc(at) < _utc(rotation.starts_at):
        return None
    index = max((rotation.clock(at) - rotation.clock(rotation.starts_at)) // rotation.shift, 0)
    return rotation.users[index % len(rotation.users)]


def on_call(rotation: Rotation, at: datetime) -> str | None:
    """Who is on call at `at`: an override covering `at` wins (the latest-starting one if several);
    None before starts_at."""
    at = _utc(at)
    covering = [o for o in rotation.overrides if o.covers(at)]
    if covering:
        # max() keeps the first of equals; reversed so a later-listed override wins a tie.
        return max(reversed(covering), key=lambda o: _utc(o.starts_at)).user
    return _scheduled(rotation, at)


def shifts(rotation: Rotation, start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:
    """The on-call timeline between start and end, overrides cut in, adjacent equal users merged."""
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        return []
    cuts = {start, end}
    if _utc(rotation.starts_at) < end:
        shift, first = rotation.shift, rotation.clock(rotation.starts_at)
        boundary = first + shift * max((rotation.clock(max(start, _utc(rotation.starts_at))) - first) // shift, 0)
        while rotation.instant(boundary) < end:
            cuts.add(rotation.instant(boundary))
            boundary += shift
    for override in rotation.overrides:
        cuts.update({_utc(override.starts_at), _utc(override.ends_at)})
    points = sorted(cut for cut in cuts if start <= cut <= end)
    timeline: list[tuple[str, datetime, datetime]] = []
    for begin, finish in pairwise(points):
        user = on_call(rotation, begin)
        if user is None:
            continue
        if timeline and timeline[-1][0] == user and timeline[-1][2] == begin:
            timeline[-1] = (user, timeline[-1][1], finish)
        else:
            timeline.append((user, begin, finish))
    return timeline


# ---------------------------------------------------------------- paging


def split_at_call(channels) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A level's channels as (paged at once, held back): the channels listed after `voice` are the
    call's fallback, paged when the call goes unanswered. A level without a call pages all at once."""
    channels = tuple(channels)
    if PageChannel.VOICE not in channels:
        return channels, ()
    cut = channels.index(PageChannel.VOICE) + 1
    return channels[:cut], channels[cut:]


@dataclass(frozen=True)
class Recipient:
    kind: str  # "user" | "slack_channel"
    value: str  # email or channel id
    via: str | None = None  # the rotation name it came through, if any


def recipients(level: Level, rotations: Mapping[str, Rotation], at: datetime) -> list[Recipient]:
    """Who a level pages at `at`, rotations resolved, duplicates removed, order kept. Unknown rotation -> PolicyError."""
    at = _utc(at)
    found: list[Recipient] = []
    seen: set[tuple[str, str]] = set()
    for target in level.targets:
        if target.user is not None:
            recipient = Recipient("user", target.user)
        elif target.slack_channel is not None:
            recipient = Recipient("slack_channel", target.slack_channel)
        else:
            assert target.rotation is not None  # a target has exactly one kind
            rotation = rotations.get(target.rotation)
            if rotation is None:
                raise PolicyError(
                    f"unknown rotation {target.rotation!r} in level {level.name!r}",
                    {"rotation": f"no rotation named {target.rotation!r}"},
                )
            user = on_call(rotation, at)
            if user is None:
                continue
            recipient = Recipient("user", user, via=rotation.name)
        key = (recipient.kind, recipient.value.casefold() if recipient.kind == "user" else recipient.value)
        if key not in seen:
            seen.add(key)
            found.append(recipient)
    return found


@dataclass(frozen=True)
class Step:
    at: datetime  # when this level is paged (UTC)
    level_index: int
    level_name: str
    round: int  # 0 for the first pass
    recipients: tuple[Recipient, ...]
    channels: tuple[str, ...]
    deadline: datetime | None  # when it breaches if nobody acknowledges (None for a skipped level)
    skipped: str | None = None  # OUTSIDE_BUSINESS_HOURS or NOBODY_ON_CALL


def _step(policy: Policy, rotations, index: int, round_: int, at: datetime, timeout: timedelta | None = None) -> Step:
    """Page level `index` at `at`, or a skipped step when it is closed or nobody would be reached."""
    level = policy.levels[index]
    if level.business_hours is not None and not level.business_hours.contains(at):
        return Step(at, index, level.name, round_, (), level.channels, None, OUTSIDE_BUSINESS_HOURS)
    found = tuple(recipients(level, rotations, at))
    if not found:
        return Step(at, index, level.name, round_, (), level.channels, None, NOBODY_ON_CALL)
    return Step(at, index, level.name, round_, found, level.channels, at + (timeout or level.ack_timeout))


def _walk(policy: Policy, rotations, index: int, round_: int, at: datetime) -> list[Step]:
    """Tiered: page level `index` of `round_`; a skipped level counts as breached at once."""
    steps: list[Step] = []
    while round_ <= policy.repeat and len(steps) < len(policy.levels):
        step = _step(policy, rotations, index, round_, at)
        steps.append(step)
        if step.skipped is None:
            return steps
        index += 1
        if index == len(policy.levels):
            index, round_ = 0, round_ + 1
    # Every level skipped at this same instant: further rounds would skip them all again.
    return steps


def _swarm(policy: Policy, rotations, round_: int, at: datetime) -> list[Step]:
    """Swarm: every open level at once, sharing the shortest ack timeout among the levels paged."""
    probe = [_step(policy, rotations, i, round_, at) for i in range(len(policy.levels))]
    paged = [policy.levels[s.level_index].ack_timeout for s in probe if s.skipped is None]
    if not paged:
        return probe
    shortest = min(paged)
    return [s if s.skipped else _step(policy, rotations, s.level_index, round_, at, shortest) for s in probe]


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise PolicyError(f"unknown mode {mode!r}", {"mode": f"one of {', '.join(MODES)}"})


def first_step(
    policy: Policy, rotations: Mapping[str, Rotation], *, start: datetime, mode: str = "tiered", level: int | None = None
) -> list[Step]:
    """The page(s) to send when an escalation starts at `start`.

    tiered: the level given (default 0), with skipped levels returned as Steps (skipped set, no
    deadline) before the first level really paged. swarm: every level at once, all with the
    same deadline, start + the shortest ack timeout; `level` is ignored.
    """
    _check_mode(mode)
    start = _utc(start, "start")
    if mode == "swarm":
        return _swarm(policy, rotations, 0, start)
    index = 0 if level is None else level
    if not _is_int(index) or not 0 <= index < len(policy.levels):
        raise PolicyError(f"no level {level!r} in policy {policy.name!r}", {"level": "out of range"})
    return _walk(policy, rotations, index, 0, start)


def next_steps(
    policy: Policy, rotations: Mapping[str, Rotation], *, level_index: int,
    round: int,  # noqa: A002  (the step's round, as the column and the API name it)
    at: datetime, mode: str = "tiered",
) -> list[Step]:
    """What to page when the step at (level_index, round) breaches at `at`; [] when the policy is exhausted."""
    _check_mode(mode)
    at = _utc(at)
    if not _is_int(level_index) or not 0 <= level_index < len(policy.levels):
        raise PolicyError(f"no level {level_index!r} in policy {policy.name!r}", {"level_index": "out of range"})
    if not _is_int(round) or not 0 <= round <= policy.repeat:
        raise PolicyError(f"no round {round!r} in policy {policy.name!r}", {"round": "out of range"})
    if mode == "swarm":
        return _swarm(policy, rotations, round + 1, at) if round < policy.repeat else []
    if level_index + 1 < len(policy.levels):
        return _walk(policy, rotations, level_index + 1, round, at)
    return _walk(policy, rotations, 0, round + 1, at) if round < policy.repeat else []


def simulate(
    policy: Policy,
    rotations: Mapping[str, Rotation],
    *,
    start: datetime,
    mode: str = "tiered",
    level: int | None = None,
    limit: int = 100,
) -> list[Step]:
    """The whole schedule if nobody ever acknowledges: first_step, then next_steps at each deadline."""
    batch = first_step(policy, rotations, start=start, mode=mode, level=level)
    schedule = list(batch)
    while len(schedule) < limit:
        paged = [step for step in batch if step.skipped is None]
        if not paged:
            break
        last = paged[-1]
        assert last.deadline is not None  # only a skipped level has none
        batch = next_steps(policy, rotations, level_index=last.level_index, round=last.round,
                           at=last.deadline, mode=mode)
        schedule.extend(batch)
    return schedule[:limit]
