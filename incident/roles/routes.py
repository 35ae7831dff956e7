"""JSON API for crisis roles and runbook checklists (/api/v1/incidents/<id>/roles, /checklists)."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from ..api import parse
from ..auth.access import api_auth
from ..incidents.models import Incident
from . import service
from .policy import ROLES
from .schemas import AssignRole, TickItem, term_to_dict

bp = Blueprint("api_roles", __name__, url_prefix="/api/v1/incidents/<incident_id>")


def _roles_json(incident: Incident) -> dict:
    holders = service.holders_by_incident([incident.id])[incident.id]
    return {"current": holders, "missing": service.missing_required(incident, holders),
            "history": [term_to_dict(t) for t in service.role_history(incident.id)]}


@bp.get("/roles")
@api_auth("viewer")
def list_roles(incident_id):
    return jsonify(_roles_json(Incident.get_or_raise(incident_id)))


@bp.put("/roles/<role>")
@api_auth("lead")
def assign(incident_id, role):
    body = parse(AssignRole)
    incident = Incident.get_or_raise(incident_id)
    changed = service.assign_role(g.user, incident.id, role, user_email=body.user)
    return jsonify({"changed": changed, **_roles_json(incident)})


@bp.delete("/roles/<role>")
@api_auth("lead")
def relieve(incident_id, role):
    incident = Incident.get_or_raise(incident_id)
    relieved = service.relieve_role(g.user, incident.id, role, user_email=request.args.get("user"))
    return jsonify({"relieved": relieved, **_roles_json(incident)})


@bp.get("/checklists")
@api_auth("viewer")
def checklists(incident_id):
    incident = Incident.get_or_raise(incident_id)
    wanted = request.args.getlist("role") or list(ROLES)
    return jsonify({"items": service.checklists(incident, [r for r in wanted if r in ROLES])})


@bp.post("/checklists")
@api_auth("viewer")
def tick(incident_id):
    body = parse(TickItem)
    incident = Incident.get_or_raise(incident_id)
    changed = service.set_checklist_item(g.user, incident.id, runbook=body.runbook, item=body.item,
                                         checked=body.checked)
    return jsonify({"changed": changed, "runbook": body.runbook, "item": body.item, "checked": body.checked})
