"""JSON API for outgoing webhooks (/api/v1/webhooks): register, list, delete, the delivery log, a test event.
Admins only."""
from __future__ import annotations

from flask import Blueprint, g, jsonify

from ..api import page_args, paginated, parse
from ..auth.access import api_auth
from . import service
from .schemas import WebhookIn

bp = Blueprint("api_webhooks", __name__, url_prefix="/api/v1/webhooks")
PERMISSION = "admin"


@bp.post("")
@api_auth(PERMISSION)
def register():
    data = parse(WebhookIn)
    endpoint, secret = service.register_endpoint(g.user, url=data.url, events=list(data.events), secret=data.secret,
                                                 description=data.description)
    return jsonify({**service.endpoint_to_dict(endpoint), "secret": secret}), 201


@bp.get("")
@api_auth(PERMISSION)
def list_webhooks():
    return jsonify({"items": [service.endpoint_to_dict(e) for e in service.list_endpoints()]})


@bp.get("/<int:endpoint_id>")
@api_auth(PERMISSION)
def get_webhook(endpoint_id):
    return jsonify(service.endpoint_to_dict(service.get_endpoint_or_raise(endpoint_id)))


@bp.delete("/<int:endpoint_id>")
@api_auth(PERMISSION)
def delete_webhook(endpoint_id):
    cancelled = service.delete_endpoint(g.user, endpoint_id)
    return jsonify({"deleted": True, "cancelled": cancelled})


@bp.get("/<int:endpoint_id>/deliveries")
@api_auth(PERMISSION)
def deliveries(endpoint_id):
    page, per_page = page_args()
    rows, total = service.list_messages(endpoint_id, page=page, per_page=per_page)
    return jsonify(paginated([service.message_to_dict(m, d) for m, d in rows], page, per_page, total))


@bp.post("/<int:endpoint_id>/test")
@api_auth(PERMISSION)
def send_test(endpoint_id):
    message = service.send_test(g.user, endpoint_id)
    return jsonify(service.message_to_dict(message, message.delivery)), 202
