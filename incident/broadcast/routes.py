"""JSON API for broadcasts (staff, bearer tokens) and the customers' unsubscribe page (public, signed link)."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, render_template, request

from .. import locales
from ..api import page_args, paginated, parse
from ..auth.access import api_auth
from ..clock import isoformat
from ..customers.links import manage_url
from ..incidents.models import Incident
from . import service, templates
from .schemas import BroadcastEdit, BroadcastIn

bp = Blueprint("api_broadcasts", __name__, url_prefix="/api/v1")
public = Blueprint("unsubscribe", __name__)


def shown_status(row, counts: dict) -> str:
    """`done` only once nothing is left to send: a broadcast whose rows are still queued is `sending`."""
    return "sending" if row.status == "done" and counts.get("queued") else row.status


def broadcast_to_dict(row, counts: dict, next_send=None) -> dict:
    return {"id": row.id, "incident_id": row.incident_id, "kind": row.kind, "status": shown_status(row, counts),
            "channels": row.channels, "audience": row.audience, "message": row.message, "important": row.important,
            "include_workaround": row.include_workaround,
            "send_at": isoformat(row.send_at), "repeat_every_minutes": row.repeat_every_minutes,
            "next_update_minutes": row.next_update_minutes, "next_send_at": isoformat(next_send),
            "counts": counts, "created_at": isoformat(row.created_at)}


def _one(row) -> dict:
    return broadcast_to_dict(row, service.counts_by_broadcast([row.id])[row.id],
                             service.next_send_at([row.id]).get(row.id))


@bp.post("/incidents/<incident_id>/broadcasts")
@api_auth("lead")
def create(incident_id):
    data = parse(BroadcastIn)
    return jsonify(_one(service.create_broadcast(g.user, incident_id, data))), 201


@bp.get("/incidents/<incident_id>/broadcasts")
@api_auth("viewer")
def list_for_incident(incident_id):
    rows = service.list_broadcasts(incident_id)
    ids = [row.id for row in rows]
    counts, next_sends = service.counts_by_broadcast(ids), service.next_send_at(ids)
    return jsonify([broadcast_to_dict(row, counts[row.id], next_sends.get(row.id)) for row in rows])


@bp.post("/incidents/<incident_id>/broadcasts/preview")
@api_auth("agent")
def preview(incident_id):
    """Each channel's message in each locale, as customers would get it; nothing is saved."""
    data = parse(BroadcastIn)
    incident = Incident.get_or_raise(incident_id)
    promise = data.repeat_every_minutes or data.next_update_minutes
    context = service.message_context(incident, data.kind, data.message, locale="en",
                                      next_update_at=service.preview_promise(data.send_at, promise),
                                      include_workaround=data.include_workaround)
    return jsonify({"audience": service.count_audience(incident.id, data.audience.model_dump()),
                    "messages": templates.preview(data.kind, data.channels, list(templates.languages()), context,
                                                  templates.load_overrides())})


@bp.get("/broadcasts/<broadcast_id>")
@api_auth("viewer")
def get_one(broadcast_id):
    return jsonify(_one(service.get_broadcast_or_raise(broadcast_id)))


@bp.patch("/broadcasts/<broadcast_id>")
@api_auth("lead")
def edit(broadcast_id):
    return jsonify(_one(service.edit_broadcast(g.user, broadcast_id, parse(BroadcastEdit))))


@bp.delete("/broadcasts/<broadcast_id>")
@api_auth("lead")
def cancel(broadcast_id):
    return jsonify(service.cancel_broadcast(g.user, broadcast_id))


@bp.get("/broadcasts/<broadcast_id>/deliveries")
@api_auth("viewer")
def deliveries(broadcast_id):
    page, per_page = page_args()
    rows, total = service.list_deliveries(broadcast_id, status=request.args.get("status") or None, page=page,
                                          per_page=per_page)
    return jsonify(paginated([{
        "id": r.id, "customer_id": r.customer_id, "customer": r.name, "send": r.number, "channel": r.channel,
        "recipient": r.recipient, "status": r.status, "reason": r.error, "attempts": r.attempts,
        "sent_at": isoformat(r.sent_at), "updated_at": isoformat(r.updated_at)} for r in rows], page, per_page, total))


# Public: the link in every email and its one-click POST (RFC 8058) ---------------------------

@public.get("/unsubscribe/<token>")
def unsubscribe_page(token):
    """Ask before acting: mail scanners follow links, and must not unsubscribe anybody."""
    customer_id, channel = service.read_unsubscribe_token(token)
    return _unsubscribe_page(customer_id, channel, service.customer_locale(customer_id), None)


@public.post("/unsubscribe/<token>")
def unsubscribe(token):
    """One click (the mail client's List-Unsubscribe-Post, or the page's button) takes them off; `resume` undoes it."""
    customer_id, channel = service.read_unsubscribe_token(token)
    resume = request.form.get("action") == "resume"
    customer = service.set_opt_out(customer_id, channel, opted_out=not resume)
    return _unsubscribe_page(customer_id, channel, customer.locale, "resumed" if resume else "stopped")


def _unsubscribe_page(customer_id: int, channel: str, locale: str, done: str | None):
    language = locales.language_for(locale)
    names = {"email": locales.t(language, "channel.email"), "sms": locales.t(language, "channel.sms"),
             "slack": locales.t(language, "channel.slack")}
    return render_template("unsubscribe.html", locale=language, t=lambda key, **v: locales.t(language, key, **v),
                           channel_name=names.get(channel, channel), done=done,
                           manage_link=manage_url(customer_id, channel) if channel in ("email", "sms") else None)
