"""Staff JSON API for the status page (/api/v1/status/..., /api/v1/incidents/<id>/status-impact)."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify

from ..api import parse
from ..auth.access import api_auth
from ..incidents.models import Incident
from . import service
from .schemas import ComponentEdit, ComponentIn, ImpactIn, MaintenanceIn, component_to_dict, maintenance_to_dict
from .snapshot import snapshot_for

bp = Blueprint("api_status", __name__, url_prefix="/api/v1")


def _statuses() -> dict[int, str]:
    # current_app is a LocalProxy, typed as the app it stands for
    snapshot = snapshot_for(current_app._get_current_object())  # type: ignore[attr-defined]
    snapshot.get("components.json")
    return {c.id: c.status for c in snapshot.page.components} if snapshot.page else {}


@bp.get("/status/components")
@api_auth("viewer")
def list_components():
    states = _statuses()
    return jsonify({"items": [component_to_dict(c, states.get(c.id)) for c in service.list_components()]})


@bp.post("/status/components")
@api_auth("lead")
def create_component():
    body = parse(ComponentIn)
    component = service.create_component(g.user, **body.model_dump())
    return jsonify(component_to_dict(component, _statuses().get(component.id))), 201


@bp.patch("/status/components/<component_id>")
@api_auth("lead")
def edit_component(component_id):
    body = parse(ComponentEdit)
    component = service.edit_component(g.user, service.get_component_or_raise(component_id).id,
                                       body.model_dump(include=body.model_fields_set))
    return jsonify(component_to_dict(component, _statuses().get(component.id)))


@bp.delete("/status/components/<component_id>")
@api_auth("lead")
def delete_component(component_id):
    service.delete_component(g.user, component_id)
    return jsonify({"deleted": True})


@bp.get("/incidents/<incident_id>/status-impact")
@api_auth("viewer")
def get_impact(incident_id):
    return jsonify(service.impact_view(Incident.get_or_raise(incident_id)))


@bp.put("/incidents/<incident_id>/status-impact")
@api_auth("lead")
def set_impact(incident_id):
    body = parse(ImpactIn)
    return jsonify(service.set_incident_impact(g.user, Incident.get_or_raise(incident_id).id, impact=body.impact,
                                               impact_given="impact" in body.model_fields_set,
                                               components=body.components))


@bp.get("/status/maintenances")
@api_auth("viewer")
def list_maintenances():
    return jsonify({"items": [maintenance_to_dict(m) for m in service.list_maintenances()]})


@bp.post("/status/maintenances")
@api_auth("lead")
def schedule_maintenance():
    body = parse(MaintenanceIn)
    return jsonify(maintenance_to_dict(service.schedule_maintenance(g.user, **body.model_dump()))), 201


@bp.get("/status/maintenances/<maintenance_id>")
@api_auth("viewer")
def get_maintenance(maintenance_id):
    return jsonify(maintenance_to_dict(service.get_maintenance_or_raise(maintenance_id)))


@bp.delete("/status/maintenances/<maintenance_id>")
@api_auth("lead")
def cancel_maintenance(maintenance_id):
    return jsonify(maintenance_to_dict(service.cancel_maintenance(g.user, maintenance_id)))
