"""The incident page's helpdesk sync: tickets updated in the helpdesk of those linked, jobs
running, tickets the helpdesk refused with its reason, and a retry button (leads)."""
from __future__ import annotations

from flask import current_app, flash, g, jsonify, redirect, url_for

from ..auth.access import login_required
from ..helpdesk import sync
from ..incidents.models import Incident
from .blueprint import bp


def helpdesk_view(incident_id: int) -> dict:
    view = sync.sync_view(incident_id, failures=20)
    done = view["synced"] + view["failed_count"]
    total = max(view["linked"], done + view["pending"])
    view["percent"] = round(100 * view["synced"] / total) if total else 100
    view["sandbox"] = sync.helpdesk_for(current_app._get_current_object()).sandbox   # type: ignore[attr-defined]
    return view


def helpdesk_context(incident: Incident) -> dict:
    """What the incident page shows of the helpdesk (nothing when no helpdesk ticket is involved)."""
    view = helpdesk_view(incident.id)
    shown = view["linked"] or view["problem_ticket_id"] or view["synced"] or view["failed_count"] or view["pending"]
    return {"helpdesk": view if shown else None}


@bp.get("/incidents/<int:incident_id>/helpdesk.json")
@login_required()
def helpdesk_progress(incident_id):
    """The sync's figures, for the incident page's live progress (polled every 2 s)."""
    response = jsonify(helpdesk_view(Incident.get_or_raise(incident_id).id))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/incidents/<int:incident_id>/helpdesk/retry")
@login_required("lead")
def helpdesk_retry(incident_id):
    incident = Incident.get_or_raise(incident_id)
    jobs = sync.retry_failed(incident, g.user)
    flash(f"Queued again: {jobs} helpdesk job{'s' if jobs != 1 else ''}." if jobs else "Nothing to retry.", "success")
    return redirect(url_for("web.incident", incident_id=incident.id) + "#helpdesk")
