"""JSON API for escalation policies, rotations, the simulator, escalate and acknowledge."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from pydantic import TypeAdapter, ValidationError

from ..api import json_body, parse
from ..auth.access import api_auth
from ..clock import isoformat, utcnow
from ..errors import ValidationFailed
from ..incidents.models import Incident
from ..validation import Instant, normalize_slug
from . import policy as pure
from . import service
from .schemas import EscalateIn, OverrideIn, RotationIn, SimulateIn

bp = Blueprint("api_escalation", __name__, url_prefix="/api/v1")


def _name(raw: str) -> str:
    try:
        return normalize_slug(raw)
    except ValueError as error:
        raise ValidationFailed(f"Bad name {raw!r}: {error}", details={"name": str(error)}) from None


def policy_to_dict(row) -> dict:
    return {"name": row.name, **row.definition, "applies_to": {"severities": row.severities, "services": row.services},
            "updated_at": isoformat(row.updated_at), "updated_by": row.updated_by}


@bp.put("/escalation-policies/<name>")
@api_auth("admin")
def put_policy(name):
    return jsonify(policy_to_dict(service.put_policy(g.user, _name(name), json_body())))


@bp.get("/escalation-policies/<name>")
@api_auth("viewer")
def get_policy(name):
    return jsonify(policy_to_dict(service.get_policy_or_raise(name)))


@bp.get("/escalation-policies")
@api_auth("viewer")
def list_policies():
    return jsonify({"items": [policy_to_dict(row) for row in service.list_policies()]})


def rotation_to_dict(row, at=None) -> dict:
    spec = service.rotation_spec(row)
    at = at or utcnow()
    return {"name": row.name, "users": row.users, "shift_hours": row.shift_hours, "starts_at": isoformat(row.starts_at),
            "timezone": row.timezone,
            "overrides": [{"user": o.user, "starts_at": isoformat(o.starts_at), "ends_at": isoformat(o.ends_at)}
                          for o in spec.overrides],
            "on_call": {"at": isoformat(at), "user": pure.on_call(spec, at)}}


@bp.put("/rotations/<name>")
@api_auth("admin")
def put_rotation(name):
    body = parse(RotationIn)
    return jsonify(rotation_to_dict(service.put_rotation(g.user, _name(name), **body.model_dump())))


@bp.get("/rotations/<name>")
@api_auth("viewer")
def get_rotation(name):
    """The rotation and who is on call now, or at ?at=<ISO 8601>."""
    at = None
    if request.args.get("at"):
        try:
            at = TypeAdapter(Instant).validate_python(request.args["at"])
        except ValidationError:
            raise ValidationFailed("at must be ISO 8601 with an offset, between 1970 and 2999.",
                                   details={"at": request.args["at"]}) from None
    return jsonify(rotation_to_dict(service.get_rotation_or_raise(name), at))


@bp.get("/rotations")
@api_auth("viewer")
def list_rotations():
    return jsonify({"items": [rotation_to_dict(r) for r in service.list_rotations()]})


@bp.post("/rotations/<name>/overrides")
@api_auth("lead")
def add_override(name):
    body = parse(OverrideIn)
    service.add_override(g.user, name, **body.model_dump())
    return jsonify(rotation_to_dict(service.get_rotation_or_raise(name))), 201


@bp.post("/escalation-policies/simulate")
@api_auth("viewer")
def simulate():
    """Who would be paged, when and on what, if nobody acknowledged."""
    body = parse(SimulateIn)
    return jsonify(service.simulate(**body.model_dump()))


@bp.post("/incidents/<incident_id>/escalate")
@api_auth("engineer")
def escalate(incident_id):
    body = parse(EscalateIn)
    incident = Incident.get_or_raise(incident_id)
    service.escalate(g.user, incident.id, level=body.level, reason=body.reason)
    return jsonify(service.escalation_view(incident))


@bp.post("/incidents/<incident_id>/acknowledge")
@api_auth("viewer")  # the service refuses (and records) anyone below engineer
def acknowledge(incident_id):
    incident = Incident.get_or_raise(incident_id)
    outcome = service.acknowledge(g.user, incident.id, via="api")
    return jsonify({"outcome": outcome, "acknowledged_at": isoformat(incident.acknowledged_at),
                    "escalation": service.escalation_view(incident)})


@bp.get("/incidents/<incident_id>/escalation")
@api_auth("viewer")
def escalation(incident_id):
    incident = Incident.get_or_raise(incident_id)
    return jsonify({**service.escalation_view(incident),
                    "acknowledgements": service.acknowledgements(incident.id)})
