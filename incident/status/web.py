"""The staff page for the status page: components, maintenance windows, incident impact."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from pydantic import BaseModel, ValidationError

from ..api import validation_details
from ..auth.access import login_required
from ..errors import AppError, ValidationFailed
from ..incidents.service import list_incidents
from . import service
from .policy import IMPACT_STATUSES, IMPACTS
from .schemas import ComponentIn, ImpactIn, MaintenanceIn

bp = Blueprint("status_staff", __name__)


def _form(model: type[BaseModel], data: dict) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed("Please correct the form.", details=validation_details(error)) from None


def _when(value: str) -> datetime | str:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)   # the form's times are UTC
    except ValueError:
        return value


@bp.get("/status/manage")
@login_required("viewer")
def manage():
    incidents, _ = list_incidents(status="open", per_page=100)
    return render_template("status/manage.html", components=service.list_components(),
                           maintenances=service.list_maintenances()[:50],
                           impacts=[service.impact_view(i) | {"incident": i} for i in incidents],
                           IMPACTS=IMPACTS, STATES=("operational", *IMPACT_STATUSES))


def _act(fn):
    try:
        fn()
        flash("Saved: the status page shows it now.", "ok")
    except AppError as error:
        detail = "; ".join(f"{k}: {v}" for k, v in error.details.items())
        flash(error.message + (f" ({detail})" if detail else ""), "error")
    return redirect(url_for("status_staff.manage"))


@bp.post("/status/manage/components")
@login_required("lead")
def add_component():
    f = request.form
    return _act(lambda: service.create_component(g.user, **_form(ComponentIn, {
        "name": f.get("name", ""), "description": f.get("description", ""), "group": f.get("group") or None,
        "service": f.get("service") or None}).model_dump()))


@bp.post("/status/manage/components/<int:component_id>/delete")
@login_required("lead")
def remove_component(component_id):
    return _act(lambda: service.delete_component(g.user, component_id))


@bp.post("/status/manage/maintenances")
@login_required("lead")
def add_maintenance():
    f = request.form
    return _act(lambda: service.schedule_maintenance(g.user, **_form(MaintenanceIn, {
        "name": f.get("name", ""), "message": f.get("message", ""),
        "scheduled_for": _when(f.get("scheduled_for", "")), "scheduled_until": _when(f.get("scheduled_until", "")),
        "components": f.getlist("components")}).model_dump()))


@bp.post("/status/manage/maintenances/<int:maintenance_id>/cancel")
@login_required("lead")
def cancel_maintenance(maintenance_id):
    return _act(lambda: service.cancel_maintenance(g.user, maintenance_id))


@bp.post("/status/manage/incidents/<int:incident_id>/impact")
@login_required("lead")
def set_impact(incident_id):
    f = request.form
    components = {int(k.split("-", 1)[1]): (v or None) for k, v in f.items()
                  if k.startswith("component-") and k.split("-", 1)[1].isdigit()}

    def run():
        body = _form(ImpactIn, {"impact": f.get("impact") or None, "components": components})
        service.set_incident_impact(g.user, incident_id, impact=body.impact, impact_given=True,
                                    components=body.components)
    return _act(run)
