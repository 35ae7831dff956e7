"""Which changes become webhook events: the timeline's events (incidents, escalation, broadcasts) and
the status page's component states, each queued in the transaction of the change."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from ..clock import isoformat
from ..extensions import db
from ..incidents.models import Incident
from ..incidents.signals import timeline_recorded
from ..status.models import StatusComponent
from ..status.signals import component_states_changed
from .service import emit

# timeline kind -> webhook event
TIMELINE_EVENTS = {
    "declared": "incident.declared",
    "status_changed": "incident.status_updated",
    "update_posted": "incident.status_updated",
    "escalated": "escalation.escalated",
    "acknowledged": "escalation.acknowledged",
    "escalation_breached": "escalation.breached",
    "broadcast_sent": "broadcast.sent",
}


def incident_view(incident: Incident) -> dict:
    """What every incident event carries about its incident."""
    return {"id": incident.id, "reference": incident.reference, "title": incident.title,
            "severity": incident.severity, "status": incident.status, "declared_at": isoformat(incident.declared_at),
            "resolved_at": isoformat(incident.resolved_at),
            "url": f"{current_app.config['PUBLIC_BASE_URL']}/incidents/{incident.id}"}


@timeline_recorded.connect
def _on_timeline(incident: Incident, *, kind: str, actor: str, data: dict, **_) -> None:
    event = TIMELINE_EVENTS.get(kind)
    if event is None or incident.private:   # a private incident's news never leaves Tocsin
        return
    with db.session.no_autoflush:   # the change is not finished yet: its rows flush when it is ready
        payload = {"incident": incident_view(incident), "actor": actor, "details": data}
        emit(event, payload)
        if kind == "status_changed" and data.get("to") == "resolved":
            emit("incident.resolved", payload)


@component_states_changed.connect
def _on_components(_sender, *, changes: list[tuple[int, int, str]], **__) -> None:
    query = select(StatusComponent.id, StatusComponent.name).where(StatusComponent.id.in_({c for c, _, _ in changes}))
    names: dict[int, str] = {cid: name for cid, name in db.session.execute(query)}
    incidents = {i.id: i for i in db.session.scalars(select(Incident).where(Incident.id.in_({i for _, i, _ in changes})))}
    for component_id, incident_id, status in changes:
        emit("status.component_changed", {
            "component": {"id": component_id, "name": names.get(component_id)}, "status": status,
            "incident": incident_view(incidents[incident_id])
            if incident_id in incidents and not incidents[incident_id].private else None})
