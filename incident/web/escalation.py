"""Staff pages for escalation: the incident's clocks, escalate and acknowledge, policies and the
simulator, and the sandbox outbox."""
from __future__ import annotations

from flask import current_app, flash, g, make_response, redirect, render_template, request, url_for
from pydantic import ValidationError
from sqlalchemy import func, or_, select

from ..api import validation_details
from ..auth.access import login_required
from ..clock import utcnow
from ..errors import AppError, ValidationFailed
from ..escalation import policy as pure
from ..escalation import service as escalation
from ..escalation.schemas import SimulateIn
from ..extensions import db
from ..incidents.models import Incident
from ..incidents.policy import SEVERITIES
from ..incidents.visibility import visible_ids
from ..outbox.dispatch import channels_for
from ..outbox.models import Delivery
from .blueprint import bp
from .broadcast_views import allow_email_styles, customer_copies
from .forms import flash_error
from .masking import may_see_secrets, shown_row

OUTBOX_PER_PAGE = 50


def escalation_context(incident: Incident) -> dict:
    """What the incident page shows of the escalation, and which levels one could escalate to."""
    view = escalation.escalation_view(incident)
    levels = []
    try:
        if view["state"] is not None:
            levels = [lv["name"] for lv in escalation.frozen_policy(incident.id)["levels"]]
        elif (row := escalation.policy_for(incident.severity, [s.name for s in incident.services])) is not None:
            levels = [lv["name"] for lv in row.definition["levels"]]
    except AppError:
        levels = []
    return {"escalation": view, "escalation_levels": levels,
            "acknowledgements": escalation.acknowledgements(incident.id)}


@bp.post("/incidents/<int:incident_id>/escalate")
@login_required("engineer")
def escalate(incident_id):
    form = request.form
    try:
        esc = escalation.escalate(g.user, incident_id, level=form.get("level") or None,
                                  reason=form.get("reason", "")[:1000])
    except AppError as error:
        flash_error(error)
    else:
        flash(f"Escalated; paging {escalation.escalation_view(db.session.get(Incident, incident_id))['level']}."
              if esc.state == "paging" else "Escalated.", "success")
    return redirect(url_for("web.incident", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/acknowledge")
@login_required("viewer")
def acknowledge(incident_id):
    via = "sandbox" if request.form.get("via") == "sandbox" else "web"
    try:
        outcome = escalation.acknowledge(g.user, incident_id, via=via)
    except AppError as error:
        flash_error(error)
    else:
        flash("Acknowledged: the clock has stopped." if outcome == "first" else "It was acknowledged already.",
              "success")
    back = request.form.get("back")
    return redirect(back if back == url_for("web.outbox") else url_for("web.incident", incident_id=incident_id))


@bp.route("/escalation", methods=["GET", "POST"])
@login_required()
def escalation_page():
    """Policies, rotations with who is on call, and the simulator."""
    simulation, values = None, {"severity": "SEV2", "services": "", "mode": "tiered", "at": ""}
    if request.method == "POST":
        values = request.form.to_dict()
        data = {"severity": values.get("severity"), "mode": values.get("mode", "tiered"),
                "services": [s for s in values.get("services", "").replace(",", " ").split() if s],
                "at": values.get("at") or None, "policy": values.get("policy") or None}
        try:
            try:
                body = SimulateIn.model_validate(data)
            except ValidationError as error:
                raise ValidationFailed("Please correct the form.", details=validation_details(error)) from None
            simulation = escalation.simulate(**body.model_dump())
        except AppError as error:
            flash_error(error)
    rotations = [(row, pure.on_call(escalation.rotation_spec(row), utcnow())) for row in escalation.list_rotations()]
    return render_template("escalation.html", policies=escalation.list_policies(), rotations=rotations,
                           simulation=simulation, values=values, severities=SEVERITIES)


@bp.get("/outbox")
@login_required()
def outbox():
    """Every message Tocsin sent or will send, as the recipient sees it; the sandbox's record."""
    page = max(1, request.args.get("page", 1, type=int) or 1)
    query = select(Delivery).where(or_(Delivery.incident_id.is_(None), Delivery.incident_id.in_(visible_ids())))
    for key in ("channel", "status", "purpose"):
        if request.args.get(key):
            query = query.where(getattr(Delivery, key) == request.args[key])
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Delivery.id.desc()).limit(OUTBOX_PER_PAGE)
                              .offset((page - 1) * OUTBOX_PER_PAGE)).all()
    open_pages = escalation.paging_incident_ids({d.incident_id for d in rows if d.purpose == "page"})
    sandboxed = [
        name
        for name, channel in channels_for(current_app._get_current_object()).items()
        if getattr(channel, "sandbox", False)
    ]
    reveal = may_see_secrets(g.user)  # unsubscribe and confirmation links, codes: admins only
    copies = customer_copies(rows, reveal=reveal)  # broadcast rows: the stored message, as the customer got it
    shown = {d.id: shown_row(d, reveal=reveal) for d in rows}
    return allow_email_styles(
        make_response(
            render_template(
                "outbox.html",
                deliveries=rows,
                total=total,
                page=page,
                per_page=OUTBOX_PER_PAGE,
                open_pages=open_pages,
                sandboxed=sandboxed,
                args=request.args,
                copies=copies,
                shown=shown,
            )
        ),
        [c["message"].html for c in copies.values()],
    )
