"""Reading a notification: Alertmanager's webhook (version 4) and Grafana's (unified alerting). Pure.

Both send the same outer shape (`status`, `receiver`, `groupKey`, `groupLabels`, `commonLabels`,
`commonAnnotations`, `externalURL`, `alerts`); Grafana adds `orgId`, `title`, `state`, `message` and, per
alert, `silenceURL`, `dashboardURL`, `panelURL`, `values`. Anything that is not what they send is a
`MalformedNotification` naming the field and why, before anything is written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import BadRequest
from .policy import fingerprint as computed_fingerprint

ALERTMANAGER, GRAFANA = "alertmanager", "grafana"
KINDS = (ALERTMANAGER, GRAFANA)
STATUSES = ("firing", "resolved")
ALERTMANAGER_VERSION = "4"
MAX_FINGERPRINT = 64
MAX_TEXT = 2000                       # a URL or a group key kept with the alert
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(3000, 1, 1, tzinfo=timezone.utc)
_LINKS = ("silenceURL", "dashboardURL", "panelURL", "imageURL")


class MalformedNotification(BadRequest):
    def __init__(self, where: str, problem: str):
        super().__init__(f"Not a notification Tocsin can read: {where} {problem}.", code="malformed_alerts",
                         details={where: problem})


@dataclass(frozen=True)
class IncomingAlert:
    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    generator_url: str = ""
    links: dict[str, str] = field(default_factory=dict)   # Grafana's silence, dashboard and panel links

    @property
    def firing(self) -> bool:
        return self.status == "firing"


@dataclass(frozen=True)
class Notification:
    kind: str
    status: str
    receiver: str
    group_key: str
    external_url: str
    alerts: tuple[IncomingAlert, ...]
    truncated: int = 0


def parse_notification(kind: str, data: Any) -> Notification:
    """The notification in `data` (decoded JSON) as `kind` sends it; `MalformedNotification` otherwise."""
    if not isinstance(data, dict):
        raise MalformedNotification("body", "must be a JSON object")
    version = data.get("version")
    if kind == ALERTMANAGER and version != ALERTMANAGER_VERSION:
        raise MalformedNotification("version", f'must be "{ALERTMANAGER_VERSION}" (Alertmanager\'s webhook '
                                               f"format), got {str(version)[:20]!r}")
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        raise MalformedNotification("alerts", "must be a list of alerts")
    status = data.get("status", "firing")
    if status not in STATUSES:
        raise MalformedNotification("status", "must be firing or resolved")
    truncated = data.get("truncatedAlerts", 0)
    if isinstance(truncated, bool) or not isinstance(truncated, int) or truncated < 0:
        raise MalformedNotification("truncatedAlerts", "must be a whole number")
    return Notification(kind=kind, status=status, receiver=_text(data, "receiver", "receiver")[:200],
                        group_key=_text(data, "groupKey", "groupKey")[:MAX_TEXT],
                        external_url=_text(data, "externalURL", "externalURL")[:MAX_TEXT],
                        alerts=tuple(_alert(item, f"alerts.{i}") for i, item in enumerate(alerts)),
                        truncated=truncated)


def _alert(item: Any, where: str) -> IncomingAlert:
    if not isinstance(item, dict):
        raise MalformedNotification(where, "must be an object")
    status = item.get("status")
    if status not in STATUSES:
        raise MalformedNotification(f"{where}.status", "must be firing or resolved")
    labels = _strings(item.get("labels"), f"{where}.labels", required=True)
    annotations = _strings(item.get("annotations"), f"{where}.annotations", required=False)
    given = _text(item, "fingerprint", f"{where}.fingerprint").strip()
    if len(given) > MAX_FINGERPRINT:
        raise MalformedNotification(f"{where}.fingerprint", f"must be at most {MAX_FINGERPRINT} characters")
    links = {name: _text(item, name, f"{where}.{name}")[:MAX_TEXT] for name in _LINKS if item.get(name)}
    return IncomingAlert(fingerprint=given or computed_fingerprint(labels), status=status, labels=labels,
                         annotations=annotations, starts_at=_time(item, "startsAt", where),
                         ends_at=_time(item, "endsAt", where),
                         generator_url=_text(item, "generatorURL", f"{where}.generatorURL")[:MAX_TEXT], links=links)


def _text(data: dict, name: str, where: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedNotification(where, "must be a string")
    return value


def _strings(value: Any, where: str, *, required: bool) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise MalformedNotification(where, "must be an object of strings")
    return dict(value)


def _time(item: dict, name: str, where: str) -> datetime | None:
    """RFC 3339 as both send it (nanoseconds too); Go's zero time (0001-01-01) and other impossible years: None."""
    raw = _text(item, name, f"{where}.{name}").strip()
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise MalformedNotification(f"{where}.{name}", "must be an RFC 3339 time") from None
    if when.tzinfo is None:
        raise MalformedNotification(f"{where}.{name}", "must carry an offset (RFC 3339)")
    try:
        utc = when.astimezone(timezone.utc)
    except OverflowError:
        return None
    return utc if EARLIEST <= utc < LATEST else None
