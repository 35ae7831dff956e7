"""`POST /webhooks/zendesk`: a Zendesk trigger's webhook, signed as Zendesk signs.

`X-Zendesk-Webhook-Signature` is base64(HMAC-SHA256(secret, timestamp + raw body)), with the
timestamp from `X-Zendesk-Webhook-Signature-Timestamp`; a timestamp more than five minutes away
is refused, so a captured request cannot be replayed later (and one replayed within the window
changes nothing: the ticket is upserted). The signature is checked before the body is read.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import datetime, timezone

from flask import Blueprint, current_app, request

from ..clock import utcnow
from ..errors import BadRequest, Unauthorized
from ..uow import unit_of_work
from .connector import RemoteTicket
from .intake import ingest_remote
from .zendesk import parse_ticket

logger = logging.getLogger(__name__)
bp = Blueprint("zendesk_webhook", __name__, url_prefix="/webhooks")
MAX_SKEW_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _when(timestamp: str) -> datetime | None:
    text = timestamp.strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text), tz=timezone.utc)
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def verify(secret: str | None, timestamp: str | None, given: str | None, body: bytes) -> None:
    """Raise `Unauthorized` unless the request is signed with the secret, recently."""
    if not secret:
        raise Unauthorized("ZENDESK_WEBHOOK_SECRET is not set: Tocsin takes no unsigned webhooks.")
    if not timestamp or not given:
        raise Unauthorized("Missing Zendesk webhook signature.")
    when = _when(timestamp)
    if when is None or abs((utcnow() - when).total_seconds()) > MAX_SKEW_SECONDS:
        raise Unauthorized("Stale or unreadable webhook timestamp.")
    if not hmac.compare_digest(signature(secret, timestamp, body), given.strip()):
        raise Unauthorized("Bad Zendesk webhook signature.")


def parse_body(body: bytes) -> RemoteTicket:
    """The trigger's `{"ticket": {...}}` as a ticket; `BadRequest` with the reason when it is not."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not JSON.", code="malformed_json") from None
    ticket = data.get("ticket") if isinstance(data, dict) else None
    if not isinstance(ticket, dict):
        raise BadRequest('Expected {"ticket": {...}}.', details={"ticket": "missing"})
    raw_id = ticket.get("id")
    if isinstance(raw_id, bool) or not str(raw_id or "").strip().isdigit():
        raise BadRequest("The ticket has no id.", details={"ticket.id": "missing or not a number"})
    requester = ticket.get("requester")
    if requester is not None and not isinstance(requester, dict):
        raise BadRequest("The requester must be an object.", details={"ticket.requester": "not an object"})
    for name in ("subject", "description", "status", "locale"):
        if ticket.get(name) is not None and not isinstance(ticket[name], str):
            raise BadRequest(f"ticket.{name} must be a string.", details={f"ticket.{name}": "not a string"})
    tags = ticket.get("tags")
    if tags is not None and not isinstance(tags, (str, list)):
        raise BadRequest("ticket.tags must be a list or a space-separated string.", details={"ticket.tags": "invalid"})
    brand = ticket.get("brand_id")
    if brand is not None and (isinstance(brand, bool) or not str(brand).isdigit()):
        raise BadRequest("ticket.brand_id must be a number.", details={"ticket.brand_id": "invalid"})
    requester = dict(requester or {})
    if ticket.get("locale") and not requester.get("locale"):
        requester["locale"] = ticket["locale"]
    parsed = parse_ticket({**ticket, "id": int(str(raw_id).strip()), "requester": requester,
                           "brand_id": int(brand) if brand is not None else None}, {})
    return parsed


@bp.post("/zendesk")
def zendesk():
    body = request.get_data(cache=False)
    verify(current_app.config.get("ZENDESK_WEBHOOK_SECRET"), request.headers.get("X-Zendesk-Webhook-Signature-Timestamp"),
           request.headers.get("X-Zendesk-Webhook-Signature"), body)
    ticket = parse_body(body)
    with unit_of_work():   # an unknown brand or an unreadable ticket: 422 with the reason, nothing written
        result = ingest_remote([ticket])
    outcome = "created" if result.created else "updated" if result.updated else "unchanged"
    logger.info("zendesk webhook: ticket %s %s", ticket.id, outcome)
    return {outcome: 1, "linked": result.linked}
