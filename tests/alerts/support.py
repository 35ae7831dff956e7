"""Helpers for the alert tests: the documented payloads, a source's token, posting a notification."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from sqlalchemy import select

from incident.alerts.models import Alert
from incident.alerts.sources import create_source_token
from incident.extensions import db
from incident.incidents.models import TimelineEvent

DATA = Path(__file__).resolve().parent.parent / "data"


def payload(name: str) -> dict:
    """A documented example: alertmanager-v4, alertmanager-v4-no-fingerprint, grafana-webhook."""
    return json.loads((DATA / f"{name}.json").read_text())


def token_for(app, name: str = "prod") -> str:
    with app.app_context():
        return create_source_token(name)


def send(client, token: str | None, body, *, kind: str = "alertmanager", **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if isinstance(body, (bytes, str)):
        return client.post(f"/webhooks/{kind}", data=body, headers=headers,
                           content_type=kw.pop("content_type", "application/json"))
    return client.post(f"/webhooks/{kind}", json=body, headers=headers)


def alert(name: str, *, service: str | None = None, status: str = "firing", severity: str = "warning",
          fingerprint: str | None = None, starts_at: str = "2026-11-22T08:55:00Z", **labels) -> dict:
    """One alert as Alertmanager sends it (the documented example's fields)."""
    base = payload("alertmanager-v4")["alerts"][0]
    item = copy.deepcopy(base)
    item["labels"] = {"alertname": name, "severity": severity, **({"service": service} if service else {}), **labels}
    item["status"] = status
    item["startsAt"] = starts_at
    item["endsAt"] = "2026-11-22T09:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z"
    item["annotations"] = {"summary": f"{name} is failing", "description": f"{name}: details"}
    if fingerprint is None:
        item.pop("fingerprint")
    else:
        item["fingerprint"] = fingerprint
    return item


def notification(*alerts: dict, group_key: str = '{}:{alertname="x"}') -> dict:
    """An Alertmanager v4 notification around these alerts (the documented example's envelope)."""
    body = payload("alertmanager-v4")
    body["alerts"] = list(alerts)
    body["status"] = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    body["groupKey"] = group_key
    return body


def alerts(app) -> list[Alert]:
    with app.app_context():
        rows = list(db.session.scalars(select(Alert).order_by(Alert.id)))
        db.session.expunge_all()
        return rows


def events(app, incident_id: int, prefix: str = "alert_") -> list[tuple[str, dict]]:
    with app.app_context():
        return [(e.kind, e.data) for e in db.session.scalars(
            select(TimelineEvent).where(TimelineEvent.incident_id == incident_id).order_by(TimelineEvent.id))
            if e.kind.startswith(prefix)]
