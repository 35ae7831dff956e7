"""JSON API for incidents, status updates, notes and the timeline (/api/v1)."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from .. import flows
from ..api import page_args, paginated, parse
from ..auth.access import api_auth
from ..escalation.service import escalation_view
from ..roles.service import holders_by_incident
from ..tickets.service import linked_counts
from . import service
from .models import Incident
from .schemas import (
    DeclareIncident,
    EditIncident,
    MemberIn,
    Note,
    PostUpdate,
    event_to_dict,
    incident_to_dict,
    member_to_dict,
    update_to_dict,
)

bp = Blueprint("api_incidents", __name__, url_prefix="/api/v1")


def incident_json(incident: Incident) -> dict:
    body = incident_to_dict(incident, roles=holders_by_incident([incident.id])[incident.id],
                            linked_tickets=linked_counts([incident.id]).get(incident.id, 0))
    view = escalation_view(incident)
    body["escalation"] = {k: view[k] for k in ("level", "policy", "next_deadline_at", "state")}
    return body


@bp.post("/incidents")
@api_auth("lead")
def declare():
    body = parse(DeclareIncident)
    incident = flows.declare_incident(g.user, **body.model_dump())
    return jsonify(incident_json(incident)), 201


@bp.get("/incidents")
@api_auth("viewer")
def list_incidents():
    page, per_page = page_args()
    rows, total = service.list_incidents(status=request.args.get("status", "all"), page=page, per_page=per_page)
    holders = holders_by_incident([i.id for i in rows])
    linked = linked_counts([i.id for i in rows])
    return jsonify(paginated([incident_to_dict(i, roles=holders[i.id], linked_tickets=linked.get(i.id, 0))
                              for i in rows], page, per_page, total))


@bp.get("/incidents/<incident_id>")
@api_auth("viewer")
def get_incident(incident_id):
    return jsonify(incident_json(Incident.get_or_raise(incident_id)))


@bp.patch("/incidents/<incident_id>")
@api_auth("lead")
def edit(incident_id):
    body = parse(EditIncident)
    incident = service.edit_incident(g.user, Incident.get_or_raise(incident_id).id,
                                     body.model_dump(include=body.model_fields_set))
    return jsonify(incident_json(incident))


@bp.post("/incidents/<incident_id>/updates")
@api_auth("lead")
def post_update(incident_id):
    body = parse(PostUpdate)
    update = service.post_update(g.user, Incident.get_or_raise(incident_id).id, **body.model_dump())
    return jsonify({"update": update_to_dict(update),
                    "incident": incident_json(Incident.get_or_raise(incident_id))}), 201


@bp.get("/incidents/<incident_id>/updates")
@api_auth("viewer")
def list_updates(incident_id):
    incident = Incident.get_or_raise(incident_id)
    return jsonify({"items": [update_to_dict(u) for u in service.list_updates(incident.id)]})


@bp.post("/incidents/<incident_id>/notes")
@api_auth("agent")
def add_note(incident_id):
    body = parse(Note)
    event = service.add_note(g.user, Incident.get_or_raise(incident_id).id, body.text)
    return jsonify(event_to_dict(event)), 201


@bp.get("/incidents/<incident_id>/timeline")
@api_auth("viewer")
def timeline(incident_id):
    page, per_page = page_args(default_per_page=500)
    rows, total = service.list_timeline(Incident.get_or_raise(incident_id).id, page=page, per_page=per_page)
    return jsonify(paginated([event_to_dict(e) for e in rows], page, per_page, total))


@bp.get("/incidents/<incident_id>/members")
@api_auth("viewer")
def list_members(incident_id):
    return jsonify({"items": [member_to_dict(m) for m in service.list_members(incident_id)]})


@bp.post("/incidents/<incident_id>/members")
@api_auth("lead")
def add_member(incident_id):
    body = parse(MemberIn)
    added = service.add_member(g.user, incident_id, body.email)
    return jsonify({"added": added, "items": [member_to_dict(m) for m in service.list_members(incident_id)]}), (
        201 if added else 200)


@bp.delete("/incidents/<incident_id>/members/<path:email>")
@api_auth("lead")
def remove_member(incident_id, email):
    service.remove_member(g.user, incident_id, email)
    return jsonify({"removed": email, "items": [member_to_dict(m) for m in service.list_members(incident_id)]})
