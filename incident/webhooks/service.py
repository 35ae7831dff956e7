"""Webhook use cases: register, list, delete endpoints; queue events for them; read the delivery log."""
from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, select, update

from .. import audit
from ..auth.models import User
from ..clock import isoformat, utcnow
from ..dbutil import execute_dml
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..outbox.models import Delivery
from ..outbox.purposes import Purpose, register_purpose
from ..uow import use_case
from ..vocabulary import AuditKind, DeliveryStatus
from . import signing, targets
from .models import WebhookEndpoint, WebhookMessage

logger = logging.getLogger(__name__)
PURPOSE = CHANNEL = "webhook"
TEST_EVENT = "webhook.test"
EVENTS = ("incident.declared", "incident.status_updated", "incident.resolved",
          "escalation.escalated", "escalation.acknowledged", "escalation.breached",
          "broadcast.sent", "broadcast.completed", "status.component_changed")

# Sent by the webhooks' own worker job (sender.py), never by the general dispatcher.
register_purpose(PURPOSE, Purpose(own_dispatcher=True))


class WebhookNotFound(NotFound):
    def __init__(self, endpoint_id):
        super().__init__(f"No webhook {endpoint_id}.", code="webhook_not_found")


def allow_private() -> bool:
    return bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE_TARGETS"))


def origin(url: str) -> str:
    """scheme://host:port of a URL: what logs and the audit show (a path or query may hold a token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _audit_view(endpoint: WebhookEndpoint) -> dict:
    return {"url": origin(endpoint.url) + "/…", "events": list(endpoint.events), "description": endpoint.description}


@use_case
def register_endpoint(actor: User | str | None, *, url: str, events: list[str], secret: str | None = None,
                      description: str = "") -> tuple[WebhookEndpoint, str]:
    """Add an endpoint for these events; its secret (the one given, or a new one) is returned to show once."""
    problems: dict[str, str] = {}
    try:
        targets.check(url, allow_private=allow_private())
    except targets.TargetRefused as error:
        problems["url"] = error.reason
    unknown = [e for e in events if e not in EVENTS]
    if unknown or not events:
        problems["events"] = f"one or more of {', '.join(EVENTS)}"
    if secret is not None:
        try:
            signing.secret_key(secret)
        except ValueError as error:
            problems["secret"] = str(error)
    if problems:
        raise ValidationFailed("The webhook cannot be registered.", details=problems)
    secret = secret or signing.new_secret()
    endpoint = WebhookEndpoint(url=url, events=list(dict.fromkeys(events)), secret=secret, description=description,
                               created_at=utcnow(), created_by=actor.email if isinstance(actor, User) else actor or "system")
    db.session.add(endpoint)
    db.session.flush()
    audit.record(actor, AuditKind.WEBHOOK, endpoint.id, None, _audit_view(endpoint))
    logger.info("webhook %s registered for %s at %s", endpoint.id, ",".join(endpoint.events), origin(url))
    return endpoint, secret


def get_endpoint_or_raise(endpoint_id) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None:
        raise WebhookNotFound(endpoint_id)
    return endpoint


def list_endpoints() -> list[WebhookEndpoint]:
    """Every endpoint not deleted, oldest first."""
    return list(db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None))
                                   .order_by(WebhookEndpoint.id)))


@use_case
def delete_endpoint(actor: User | str | None, endpoint_id) -> int:
    """Stop sending to an endpoint: what is still queued for it is cancelled; returns how many."""
    endpoint = get_endpoint_or_raise(endpoint_id)
    now = utcnow()
    endpoint.deleted_at = now
    queued = select(WebhookMessage.delivery_id).where(WebhookMessage.endpoint_id == endpoint.id)
    cancelled = execute_dml(
        update(Delivery).where(Delivery.id.in_(queued), Delivery.status == DeliveryStatus.QUEUED)
        .values(status=DeliveryStatus.CANCELLED, updated_at=now, error="webhook deleted")
        .execution_options(synchronize_session=False)).rowcount
    audit.record(actor, AuditKind.WEBHOOK, endpoint.id, _audit_view(endpoint), None)
    return cancelled or 0


def new_event_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def _body(event_type: str, data: dict, now: datetime) -> str:
    return json.dumps({"type": event_type, "timestamp": isoformat(now), "data": data},
                      separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _queue(endpoint: WebhookEndpoint, event_type: str, event_id: str, body: str, now: datetime) -> WebhookMessage | None:
    """The outbox row and the message for one endpoint (no commit); None if this event is queued there already."""
    key = f"webhook:{endpoint.id}:{event_id}"
    with db.session.no_autoflush:   # the caller may hold rows it has not finished: they flush when it is ready
        if db.session.scalar(select(Delivery.id).where(Delivery.dedupe_key == key)) is not None:
            return None
    row = Delivery(purpose=PURPOSE, dedupe_key=key, channel=CHANNEL, recipient=f"webhook {endpoint.id}",
                   subject=event_type, text=body, status=DeliveryStatus.QUEUED, attempts=0, next_attempt_at=now,
                   created_at=now, updated_at=now)
    message = WebhookMessage(endpoint_id=endpoint.id, delivery=row, event_id=event_id, event_type=event_type,
                             created_at=now)
    db.session.add_all([row, message])
    return message


def emit(event_type: str, data: dict, *, event_id: str | None = None) -> int:
    """Queue an event for every endpoint that subscribes to it, in the caller's transaction (no commit):
    a rolled-back change sends nothing. A given `event_id` is queued at most once per endpoint."""
    with db.session.no_autoflush:
        endpoints = [e for e in list_endpoints() if event_type in (e.events or [])]
    if not endpoints:
        return 0
    now = utcnow()
    event_id = event_id or new_event_id()
    body = _body(event_type, data, now)
    return sum(1 for endpoint in endpoints if _queue(endpoint, event_type, event_id, body, now) is not None)


@use_case
def send_test(actor: User | str | None, endpoint_id) -> WebhookMessage:
    """Queue a `webhook.test` event for this endpoint alone, whatever it subscribes to."""
    endpoint = get_endpoint_or_raise(endpoint_id)
    now = utcnow()
    who = actor.email if isinstance(actor, User) else actor or "system"
    message = _queue(endpoint, TEST_EVENT, new_event_id(),
                     _body(TEST_EVENT, {"webhook": endpoint.id, "requested_by": who,
                                        "message": "A test event from Tocsin."}, now), now)
    assert message is not None   # a new event id is never queued already
    db.session.flush()
    return message


def list_messages(endpoint_id, *, page: int = 1, per_page: int = 50) -> tuple[list[tuple[WebhookMessage, Delivery]], int]:
    """The endpoint's delivery log, newest first: each message with its outbox row (state, attempts)."""
    endpoint = get_endpoint_or_raise(endpoint_id)
    where = WebhookMessage.endpoint_id == endpoint.id
    total = db.session.scalar(select(func.count()).select_from(WebhookMessage).where(where)) or 0
    rows = db.session.execute(select(WebhookMessage, Delivery).join(Delivery, Delivery.id == WebhookMessage.delivery_id)
                              .where(where).order_by(WebhookMessage.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return [(m, d) for m, d in rows], total


def endpoint_to_dict(endpoint: WebhookEndpoint) -> dict:
    """An endpoint as the API shows it: never its secret (shown once, when registered)."""
    return {"id": endpoint.id, "url": endpoint.url, "events": list(endpoint.events),
            "description": endpoint.description, "created_at": isoformat(endpoint.created_at),
            "created_by": endpoint.created_by}


def message_to_dict(message: WebhookMessage, delivery: Delivery) -> dict:
    return {"id": message.id, "event_id": message.event_id, "event_type": message.event_type,
            "created_at": isoformat(message.created_at), "status": delivery.status,
            "attempts": len(message.attempts),
            "next_attempt_at": isoformat(delivery.next_attempt_at) if delivery.status == DeliveryStatus.QUEUED else None,
            "sent_at": isoformat(delivery.sent_at), "error": delivery.error,
            "attempt_log": [{"at": isoformat(a.at), "ok": a.ok, "status_code": a.status_code,
                             "duration_ms": a.duration_ms, "error": a.error} for a in message.attempts]}
