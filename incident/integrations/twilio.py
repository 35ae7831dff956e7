"""Twilio webhooks: texts to Tocsin's number (/twilio/sms) and SMS delivery receipts (/twilio/status).

Both check X-Twilio-Signature against the public URL Twilio called before reading anything.
That signature has no timestamp, so a captured request stays valid: each is handled once, by its
Message SID (a receipt by SID and status), and a replay is answered 200 and changes nothing.
Phone numbers reach the logs masked, never in full.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from ..auth.models import User
from ..broadcast.sender import undelivered
from ..clock import utcnow
from ..customers.policy import OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS
from ..customers.service import opt_in, opt_out
from ..dbutil import execute_dml
from ..errors import Unauthorized
from ..extensions import db
from ..outbox.models import Delivery
from ..validation import mask_phone
from . import AckResult, acknowledge_as, parse_incident_ref
from .models import TwilioEvent
from .replays import SeenRequests

logger = logging.getLogger(__name__)

bp = Blueprint("twilio", __name__, url_prefix="/twilio")

# Twilio's default opt-out, opt-in and help keywords; like Twilio, only a whole message counts.
CUSTOMER_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT",
                               "START", "YES", "UNSTOP", "HELP", "INFO"})
# ACK 42, ack inc-42, ACK #42, Ack: INC-42., ACK42
_ACK = re.compile(r"^ack(?:nowledge)?[\s:#-]*(.*?)[\s.!]*$", re.IGNORECASE | re.DOTALL)
# What a receipt's MessageStatus means for the outbox row; other statuses change nothing.
RECEIPT_STATUSES = {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}
# A row already delivered or failed stays so: receipts arrive out of order.
NOT_FINAL = ("queued", "sending", "sent")
USAGE = "Tocsin: to acknowledge a page, reply ACK and the incident number, e.g. ACK 42."


# Parsing and replies: pure -------------------------------------------------------------------

@dataclass(frozen=True)
class Sms:
    """What a text to Tocsin's number asks for."""

    kind: str                        # ack | keyword | other
    incident_id: int | None = None
    keyword: str = ""


def parse_sms(body: str) -> Sms:
    """`ACK 42` / `ack inc-42` / `ACK INC-42` acknowledge; STOP, START… are customer keywords."""
    text = body.strip()
    if text.upper() in CUSTOMER_KEYWORDS:
        return Sms("keyword", keyword=text.upper())
    match = _ACK.match(text)
    incident_id = parse_incident_ref(match.group(1)) if match else None
    return Sms("ack", incident_id) if incident_id is not None else Sms("other")


def ack_sms_text(result: AckResult) -> str:
    return {
        "first": f"Acknowledged {result.reference}. Thank you.",
        "duplicate": f"{result.reference} was already acknowledged; yours is noted too. Thank you.",
        "not_found": f"Tocsin has no incident {result.reference}.",
        "unknown_sender": "This number is not on Tocsin's on-call staff, so the acknowledgement was not recorded.",
        "not_allowed": f"Your Tocsin role ({result.role}) cannot acknowledge pages, so this was not recorded.",
    }[result.outcome]


def twiml(text: str | None = None) -> str:
    """A TwiML answer: one reply message, or none."""
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    return f"{head}<Response><Message>{escape(text)}</Message></Response>" if text else f"{head}<Response/>"


def request_key(kind: str, form) -> str | None:
    """What makes a Twilio request unique: its Message SID (a call's Call SID), and a receipt's status."""
    sid = (form.get("MessageSid") or form.get("SmsSid") or form.get("CallSid") or "")[:64]
    if not sid:
        return None
    if kind == "status":
        return f"status:{sid}:{(form.get('MessageStatus') or form.get('CallStatus') or '')[:24]}"
    return f"{kind}:{sid}"


_SEEN = SeenRequests(TwilioEvent, lambda key: TwilioEvent(key=key, created_at=utcnow()))


# Use cases -----------------------------------------------------------------------------------

def staff_by_phone(number: str) -> User | None:
    """The staff member with this phone number (E.164), active ones first."""
    if not number:
        return None
    return db.session.scalars(select(User).where(User.phone == number)
                              .order_by(User.active.desc(), User.id)).first()


def acknowledge_from_sms(from_number: str, incident_id: int) -> AckResult:
    """Acknowledge for the staff member whose phone sent `ACK n`; strangers are refused and recorded."""
    user = staff_by_phone(from_number)
    result = acknowledge_as(user, incident_id, who=mask_phone(from_number), via="sms")
    logger.info("sms acknowledgement of %s from %s: %s", result.reference, mask_phone(from_number), result.outcome)
    return result


def is_staff_number(number: str) -> bool:
    """True when the number belongs to a staff member (customers texting back get no usage text)."""
    return staff_by_phone(number) is not None


def handle_customer_keyword(from_number: str, keyword: str) -> None:
    """STOP and its synonyms take every customer with this phone off SMS, START puts them back; HELP
    changes nothing. Twilio itself answers these keywords, so Tocsin sends no reply."""
    if keyword in OPT_OUT_KEYWORDS:
        changed = opt_out(from_number, "sms", how="sms_keyword")
    elif keyword in OPT_IN_KEYWORDS:
        changed = opt_in(from_number, "sms", how="sms_keyword")
    else:
        changed = []
    logger.info("sms keyword %s from %s: %s customers changed", keyword, mask_phone(from_number), len(changed))


def record_receipt(message_sid: str, message_status: str, error_code: str | None) -> bool:
    """Apply a delivery receipt to the SMS outbox row Twilio names; True when a row changed.

    A broadcast message that could not be delivered moves on to the customer's next preferred
    channel, as a send that fails for good does; a page or any other message just fails.
    """
    status = RECEIPT_STATUSES.get(message_status)
    if not message_sid or status is None:
        return False
    now = utcnow()
    values = {"status": status, "updated_at": now}
    match = [Delivery.provider_id == message_sid, Delivery.channel == "sms", Delivery.status.in_(NOT_FINAL)]
    if status == "failed":
        values["error"] = (error_code or message_status)[:300]
        row = db.session.execute(select(Delivery.id, Delivery.purpose).where(*match)).first()
        if row is not None and row.purpose == "broadcast":
            moved = undelivered(row.id, f"sms: {error_code or message_status} ({message_status})", now)
            if moved is not None:
                logger.info("delivery %s undelivered by SMS (%s); trying %s", row.id, error_code or message_status,
                            moved["channel"])
                values.update(moved)
    changed = execute_dml(update(Delivery).where(*match).values(**values)
                          .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return changed > 0


# Routes --------------------------------------------------------------------------------------

def _signed_url() -> str:
    """The URL Twilio signed: the public one, since behind a proxy request.url is another."""
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    if not base:
        return request.url
    query = request.query_string.decode("ascii", "replace")
    return f"{base}{request.path}" + (f"?{query}" if query else "")


@bp.before_request
def verify_signature() -> None:
    """Refuse (401) a request Twilio did not sign for the public URL it called; before anything is read."""
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    if not token:
        raise Unauthorized("Twilio is not configured on this Tocsin.", code="twilio_not_configured")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not RequestValidator(token).validate(_signed_url(), request.form, signature):
        logger.warning("twilio request refused: bad or missing signature on %s", request.path)
        raise Unauthorized("The Twilio signature is missing or wrong.", code="invalid_signature")


def _xml(body: str) -> Response:
    return Response(body, status=200, content_type="application/xml; charset=utf-8")


@bp.post("/sms")
def sms():
    """A text to Tocsin's number: `ACK 42` from an on-call phone acknowledges; a replay changes nothing."""
    form = request.form
    key = request_key("sms", form)
    if not _SEEN.claim(key):
        logger.info("twilio sms %s seen before: ignored", form.get("MessageSid"))
        return _xml(twiml())
    reply = _answer_sms(form.get("From", ""), parse_sms(form.get("Body", "")))
    _SEEN.settle(key)
    return _xml(twiml(reply))


def _answer_sms(from_number: str, wanted: Sms) -> str | None:
    if wanted.kind == "keyword":
        handle_customer_keyword(from_number, wanted.keyword)
        return None
    if wanted.kind == "other":  # customers answering a broadcast are not told how to acknowledge
        return USAGE if is_staff_number(from_number) else None
    assert wanted.incident_id is not None  # an "ack" always names its incident (parse_sms)
    return ack_sms_text(acknowledge_from_sms(from_number, wanted.incident_id))


@bp.post("/status")
def status():
    """A delivery receipt: delivered, or failed with Twilio's error code; unknown messages and replays
    are ignored."""
    form = request.form
    key = request_key("status", form)
    if not _SEEN.claim(key):
        logger.info("twilio status %s %s seen before: ignored", form.get("MessageSid"), form.get("MessageStatus"))
        return _xml(twiml())
    record_receipt(form.get("MessageSid", ""), form.get("MessageStatus", ""), form.get("ErrorCode") or None)
    _SEEN.settle(key)
    return _xml(twiml())
