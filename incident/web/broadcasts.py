"""Staff pages for customer broadcasts: compose with a live preview, edit or cancel before it goes,
each broadcast's progress on the incident page (polled), and a broadcast's deliveries."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import flash, g, jsonify, make_response, redirect, render_template, request, url_for
from pydantic import BaseModel

from ..auth.access import login_required
from ..broadcast import policy
from ..broadcast import service as broadcasts
from ..broadcast.models import KINDS
from ..broadcast.schemas import BroadcastEdit, BroadcastIn
from ..clock import isoformat, utcnow
from ..errors import AppError, ValidationFailed
from ..incidents.models import Incident
from ..known_issues.service import workaround_of
from ..outbox.models import STATUSES
from ..vocabulary import DeliveryStatus
from .blueprint import bp
from .broadcast_views import CHANNEL_LABELS, LOCALE_NAMES, allow_email_styles, emoji, mrkdwn, preview
from .filters import when as utc_label
from .forms import flash_error, parse_form

DELIVERIES_PER_PAGE = 50
AUDIENCES = {"linked_requesters": "Requesters of linked tickets",
             "service_subscribers": "Subscribers of the affected services"}

bp.add_app_template_filter(mrkdwn, "mrkdwn")
bp.add_app_template_filter(emoji, "emoji")


# The form ------------------------------------------------------------------------------------

def _utc(value: str) -> str:
    """A datetime-local value ("2026-11-22T10:00"), read as UTC, as ISO 8601 with its offset."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed("Please correct the form.", details={"send_at": "not a date and time"}) from None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).isoformat()


def _data(form, *, with_kind: bool = True) -> dict:
    """The form's fields as the broadcast schemas name them (validated by the schema, not here)."""
    when = form.get("when", "now")
    send_at = (form.get("send_at") or "").strip()
    if when == "at" and not send_at:
        raise ValidationFailed("Please correct the form.", details={"send_at": "say when to send it"})
    repeat = (form.get("repeat_every_minutes") or "").strip()
    if when == "repeat" and not repeat:
        raise ValidationFailed("Please correct the form.", details={"repeat_every_minutes": "say how often"})
    data = {
        "channels": form.getlist("channels"),
        "audience": {"linked_requesters": "linked_requesters" in form.getlist("audience"),
                     "service_subscribers": "service_subscribers" in form.getlist("audience"),
                     "segments": [s.strip() for s in form.get("segments", "").split(",") if s.strip()]},
        "message": form.get("message", ""),
        "send_at": _utc(send_at) if send_at and when in ("at", "repeat") else None,
        "repeat_every_minutes": repeat if when == "repeat" else None,
        "next_update_minutes": (form.get("next_update_minutes") or "").strip() or None,
        "important": form.get("important") == "on",
        "include_workaround": form.get("include_workaround") == "on",
    }
    if with_kind:
        data["kind"] = form.get("kind", "")
    return data


def _values_of(broadcast, due_at) -> dict:
    """A scheduled broadcast as the form shows it (for editing)."""
    audience = broadcast.audience or {}
    return {"kind": broadcast.kind, "channels": broadcast.channels, "message": broadcast.message,
            "audience": [k for k in AUDIENCES if audience.get(k)], "segments": ", ".join(audience.get("segments", [])),
            "when": "repeat" if broadcast.repeat_every_minutes else "at",
            "send_at": due_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M") if due_at else "",
            "repeat_every_minutes": broadcast.repeat_every_minutes or "",
            "next_update_minutes": broadcast.next_update_minutes or "", "important": broadcast.important,
            "include_workaround": broadcast.include_workaround}


def _submitted(form) -> dict:
    values = form.to_dict()
    values["channels"], values["audience"] = form.getlist("channels"), form.getlist("audience")
    values["important"] = form.get("important") == "on"
    values["include_workaround"] = form.get("include_workaround") == "on"
    return values


def _page(template: str, incident, values: dict, status: int = 200, **extra):
    body = render_template(template, incident=incident, values=values, kinds=KINDS, channels=CHANNEL_LABELS,
                           audiences=AUDIENCES, now=utcnow(), workaround=workaround_of(incident.id), **extra)
    return allow_email_styles(make_response(body, status))


# Compose, preview, edit, cancel ----------------------------------------------------------------

@bp.route("/incidents/<int:incident_id>/broadcasts/new", methods=["GET", "POST"])
@login_required("lead")
def compose_broadcast(incident_id):
    incident = Incident.get_or_raise(incident_id)
    values = {"kind": "apology" if incident.is_open else "resolution", "channels": list(CHANNEL_LABELS),
              "audience": ["linked_requesters", "service_subscribers"], "when": "now"}
    if request.method == "POST":
        values = _submitted(request.form)
        try:
            data = parse_form(BroadcastIn, _data(request.form))
            created = broadcasts.create_broadcast(g.user, incident.id, data)
        except AppError as error:
            flash_error(error)
            return _page("broadcast_form.html", incident, values, error.status, broadcast=None)
        flash(f"{created.kind.capitalize()} broadcast scheduled for {utc_label(created.send_at)}.", "success")
        return redirect(url_for("web.incident", incident_id=incident.id) + "#broadcasts")
    return _page("broadcast_form.html", incident, values, broadcast=None)


@bp.post("/incidents/<int:incident_id>/broadcasts/preview")
@login_required("lead")
def preview_broadcast(incident_id):
    """The preview panel's HTML: each channel in each locale; a form error shows in the panel."""
    incident = Incident.get_or_raise(incident_id)
    try:
        shown = preview(incident, parse_form(BroadcastIn, _data(request.form)))
    except AppError as error:
        return render_template("_broadcast_preview.html", error=error), error.status
    return render_template("_broadcast_preview.html", error=None, channels=CHANNEL_LABELS, locales=LOCALE_NAMES,
                           **shown)


def _pending_due(broadcast):
    return broadcasts.next_send_at([broadcast.id]).get(broadcast.id)


@bp.route("/broadcasts/<int:broadcast_id>/edit", methods=["GET", "POST"])
@login_required("lead")
def edit_broadcast(broadcast_id):
    broadcast = broadcasts.get_broadcast_or_raise(broadcast_id)
    incident = Incident.get_or_raise(broadcast.incident_id)
    due = _pending_due(broadcast)
    if not policy.editable(broadcast.status, due):
        flash("This broadcast has nothing left to send; compose a new one.", "error")
        return redirect(url_for("web.incident", incident_id=incident.id) + "#broadcasts")
    if request.method == "GET":
        return _page("broadcast_form.html", incident, _values_of(broadcast, due), broadcast=broadcast)
    try:
        changes = _changes(broadcast, due, parse_form(BroadcastEdit, _data(request.form, with_kind=False)))
        if changes:
            broadcasts.edit_broadcast(g.user, broadcast.id, BroadcastEdit.model_validate(changes))
    except AppError as error:
        flash_error(error)
        values = {**_submitted(request.form), "kind": broadcast.kind}
        return _page("broadcast_form.html", incident, values, error.status, broadcast=broadcast)
    flash("Broadcast updated." if changes else "Nothing changed.", "success")
    return redirect(url_for("web.incident", incident_id=incident.id) + "#broadcasts")


def _changes(broadcast, due, edit: BaseModel) -> dict:
    """Only what the form changed (PATCH semantics): a send time within the same minute is no change."""
    wanted = edit.model_dump()
    current = {"channels": broadcast.channels, "audience": broadcast.audience, "message": broadcast.message,
               "important": broadcast.important, "include_workaround": broadcast.include_workaround,
               "repeat_every_minutes": broadcast.repeat_every_minutes,
               "next_update_minutes": broadcast.next_update_minutes}
    changes = {key: value for key, value in wanted.items() if key in current and value != current[key]}
    send_at = wanted["send_at"] or utcnow()   # "send now" moves the next send to now
    if abs(send_at - due) >= timedelta(minutes=1):
        changes["send_at"] = isoformat(send_at)
    return changes


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
@login_required("lead")
def cancel_broadcast(broadcast_id):
    broadcast = broadcasts.get_broadcast_or_raise(broadcast_id)
    try:
        result = broadcasts.cancel_broadcast(g.user, broadcast.id)
    except AppError as error:
        flash_error(error)
    else:
        flash(f"Broadcast cancelled ({result['cancelled_messages']} queued messages stopped).", "success")
    return redirect(url_for("web.incident", incident_id=broadcast.incident_id) + "#broadcasts")


# Progress ------------------------------------------------------------------------------------

def _progress(row, counts: dict, due) -> dict:
    queued = counts[DeliveryStatus.QUEUED]
    return {"id": row.id, "kind": row.kind, "status": row.status, "state": policy.shown_state(row.status, queued),
            "channels": row.channels,
            "next_send_at": isoformat(due), "next_send": utc_label(due) if due else "—",
            "repeat_every_minutes": row.repeat_every_minutes, "counts": counts, "total": sum(counts.values()),
            "pending": policy.editable(row.status, due),
            "cancellable": policy.cancellable(row.status, due, queued)}


def progress_rows(incident_id: int) -> list[dict]:
    rows = broadcasts.list_broadcasts(incident_id)
    ids = [row.id for row in rows]
    counts, due = broadcasts.counts_by_broadcast(ids), broadcasts.next_send_at(ids)
    return [_progress(row, counts[row.id], due.get(row.id)) for row in rows]


def broadcasts_context(incident: Incident) -> dict:
    """What the incident page shows of its customer broadcasts."""
    return {"broadcasts": progress_rows(incident.id), "broadcast_statuses": STATUSES}


@bp.get("/incidents/<int:incident_id>/broadcasts.json")
@login_required()
def broadcasts_progress(incident_id):
    """Each broadcast's counts, for the incident page's live progress (polled every 2 s)."""
    response = jsonify({"broadcasts": progress_rows(incident_id)})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/broadcasts/<int:broadcast_id>/deliveries")
@login_required()
def broadcast_deliveries(broadcast_id):
    broadcast = broadcasts.get_broadcast_or_raise(broadcast_id)
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows, total = broadcasts.list_deliveries(broadcast.id, status=status, page=page, per_page=DELIVERIES_PER_PAGE)
    counts = broadcasts.counts_by_broadcast([broadcast.id])[broadcast.id]
    return render_template("broadcast_deliveries.html", broadcast=broadcast,
                           incident=Incident.get_or_raise(broadcast.incident_id), rows=rows, total=total,
                           page=page, per_page=DELIVERIES_PER_PAGE, status=status, counts=counts)
