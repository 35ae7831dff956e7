"""`POST /webhooks/alertmanager` and `POST /webhooks/grafana` (bearer token of an alert source), and
declaring from the dashboard's possible-outage box (`POST /alerts/declare`, leads)."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, request, url_for

from .. import metrics
from ..api import json_body
from ..auth.access import login_required
from ..errors import AppError, Conflict, Unauthorized
from ..incidents.policy import SEVERITIES
from ..security import bearer_token, body_limit
from .box import declare_from_alerts
from .payloads import ALERTMANAGER, GRAFANA, parse_notification
from .service import receive_notification
from .sources import source_for_token

hooks = Blueprint("alert_webhooks", __name__, url_prefix="/webhooks")
web = Blueprint("alerts_web", __name__)


def _receive(kind: str):
    """Token first (401, nothing read or written), then the body (400 with the reason), then one unit of work."""
    token = bearer_token()
    source = source_for_token(token) if token else None
    if source is None:
        raise Unauthorized("A valid alert source token is required (Authorization: Bearer <token>).")
    notification = parse_notification(kind, json_body())
    metrics.ALERTS_RECEIVED.labels(kind).inc(len(notification.alerts))
    try:
        outcome = receive_notification(source, notification)
    except Conflict:   # the other Alertmanager of an HA pair sent the same new alert at the same moment
        outcome = receive_notification(source, notification)   # its row is there now: this is a repeat
    return outcome.as_json(), 202


@hooks.post("/alertmanager")
@body_limit("MAX_ALERT_BODY_BYTES")
def alertmanager():
    return _receive(ALERTMANAGER)


@hooks.post("/grafana")
@body_limit("MAX_ALERT_BODY_BYTES")
def grafana():
    return _receive(GRAFANA)


@web.post("/alerts/declare")
@login_required("lead")
def declare():
    severity = request.form.get("severity", "SEV2")
    try:
        if severity not in SEVERITIES:
            raise AppError(f"Severity is one of {', '.join(SEVERITIES)}.")
        incident, attached = declare_from_alerts(g.user, service=request.form.get("service") or None,
                                                 severity=severity)
    except AppError as error:
        flash(error.message, "error")
        return redirect(url_for("web.dashboard"))
    flash(f"{incident.reference} declared; {attached} alert{'s' if attached != 1 else ''} attached.", "success")
    return redirect(url_for("web.incident", incident_id=incident.id))
