"""JSON API for an incident's helpdesk sync (/api/v1/incidents/<id>/helpdesk)."""
from __future__ import annotations

from flask import Blueprint, g, jsonify

from ..auth.access import api_auth
from ..incidents.models import Incident
from . import sync

bp = Blueprint("api_helpdesk", __name__, url_prefix="/api/v1/incidents/<int:incident_id>")


@bp.get("/helpdesk")
@api_auth("viewer")
def helpdesk_sync(incident_id):
    incident = Incident.get_or_raise(incident_id)
    return jsonify(sync.sync_view(incident.id))


@bp.post("/helpdesk/retry")
@api_auth("lead")
def retry(incident_id):
    incident = Incident.get_or_raise(incident_id)
    jobs = sync.retry_failed(incident, g.user)
    return jsonify({"jobs": jobs, **sync.sync_view(incident.id)})
