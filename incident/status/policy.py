"""Status page rules: pure functions, no database. `now` is always an argument."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

COMPONENT_STATUSES = ("operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage")
IMPACT_STATUSES = COMPONENT_STATUSES[2:]          # what an incident can do to a component
IMPACTS = ("none", "minor", "major", "critical")
INDICATORS = ("none", "maintenance", "minor", "major", "critical")   # mildest first
HISTORY_DAYS = 90

# Statuspage's own wording of the overall indicator (API clients match on it).
INDICATOR_DESCRIPTIONS = {
    "none": "All Systems Operational",
    "maintenance": "Service Under Maintenance",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
SEVERITY_IMPACT = {"SEV1": "critical", "SEV2": "major", "SEV3": "minor", "SEV4": "minor"}
SEVERITY_COMPONENT_STATUS = {"SEV1": "major_outage", "SEV2": "partial_outage",
                             "SEV3": "degraded_performance", "SEV4": "degraded_performance"}
_STATUS_INDICATOR = {"operational": "none", "under_maintenance": "maintenance",
                     "degraded_performance": "minor", "partial_outage": "major", "major_outage": "critical"}


def status_rank(status: str) -> int:
    return COMPONENT_STATUSES.index(status)


def worst_status(statuses) -> str:
    """The worst of some component statuses ('operational' when there are none)."""
    return max(statuses, key=status_rank, default="operational")


def incident_impact(severity: str, override: str | None) -> str:
    """The incident's impact: what staff set, else what the severity says."""
    return override or SEVERITY_IMPACT.get(severity, "minor")


def component_impact(severity: str, override: str | None) -> str:
    """What an incident does to one of its components: what staff set, else from the severity."""
    return override or SEVERITY_COMPONENT_STATUS.get(severity, "degraded_performance")


def component_states(severity: str, service_ids, by_service: dict, overrides: dict[int, str], known) -> dict[int, str]:
    """What an incident does to each component it touches (operational ones left out): the state
    its severity gives the components of its services, unless staff set one."""
    states = {cid: component_impact(severity, None) for sid in service_ids for cid in by_service.get(sid, [])}
    states.update({cid: status for cid, status in overrides.items() if cid in known})
    return {cid: status for cid, status in states.items() if status != "operational"}


def indicator(component_statuses, incident_impacts) -> str:
    """The page's one-word state: the worst of the components and the unresolved incidents."""
    candidates = [_STATUS_INDICATOR[s] for s in component_statuses]
    candidates += [i if i in INDICATORS else "minor" for i in incident_impacts]
    return max(candidates, key=INDICATORS.index, default="none")


def history_days(today: date, days: int = HISTORY_DAYS) -> list[date]:
    """The last `days` calendar days (UTC), oldest first, ending today."""
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=timezone.utc)
    return start, start + timedelta(days=1)


def history(intervals: list[tuple[datetime, datetime, str]], *, since: datetime | None, now: datetime,
            days: int = HISTORY_DAYS) -> list[tuple[date, str | None]]:
    """One (day, worst status) per day; None for days before `since` (no data yet).

    `intervals` are (start, end, status) spans when the component was not operational.
    """
    out: list[tuple[date, str | None]] = []
    for day in history_days(now.date(), days):
        start, end = day_bounds(day)
        if since is not None and end <= since:
            out.append((day, None))
            continue
        hits = [status for a, b, status in intervals if a < end and b > start and a <= now]
        out.append((day, worst_status(hits)))
    return out


def maintenance_state(status: str, scheduled_for: datetime, scheduled_until: datetime, now: datetime) -> str:
    """Where a window should be now: it starts and completes on its own."""
    if status in ("completed", "cancelled"):
        return status
    if now >= scheduled_until:
        return "completed"
    if now >= scheduled_for:
        return "in_progress"
    return "scheduled"


def notice_due(scheduled_for: datetime, scheduled_until: datetime, minutes_before: int, now: datetime) -> bool:
    """Whether subscribers should be told about a window now (once, before it starts)."""
    return scheduled_for - timedelta(minutes=minutes_before) <= now < scheduled_until


SUBSCRIBER_CHANNELS = ("email", "sms")   # status messages go by email or SMS, never Slack


def is_milestone(*, first_public: bool, status: str, previous_status: str) -> bool:
    """A status update worth a text message: the incident's first public word, its resolution, a reopening."""
    resolved = status == "resolved" and previous_status != "resolved"
    reopened = previous_status == "resolved" and status != "resolved"
    return first_public or resolved or reopened


def subscriber_channel(channels, opted_out, addresses: dict, *, sms_allowed: bool) -> tuple[str | None, str]:
    """(channel, "") for a subscriber's status message: their first preferred channel among email and
    SMS that has an address and no opt-out, SMS only when allowed; else (None, why not)."""
    usable = [c for c in (channels or []) if c in SUBSCRIBER_CHANNELS and c not in (opted_out or [])
              and addresses.get(c)]
    if not usable:
        return None, "no email or SMS to reach them on"
    chosen = next((c for c in usable if c != "sms" or sms_allowed), None)
    if chosen is None:
        return None, "SMS carries only the first update, the resolution and a reopening"
    return chosen, ""
