"""Twilio voice webhooks for paging calls: the call's TwiML (/twilio/voice), the key pressed
(/twilio/voice/gather) and how the call ended (/twilio/voice/status).

Each checks X-Twilio-Signature first, as the SMS webhooks do (401, nothing read or written). The
call's outbox row is named by `?page=` in the URLs Twilio was given, which the signature covers.
A key press and a call's end are handled once each (by Call SID), so Twilio's retries and replays
change nothing twice. Phone numbers never reach the logs.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request
from twilio.twiml.voice_response import Gather, VoiceResponse

from ..clock import utcnow
from ..escalation import call_script
from ..escalation.calls import CallPage, get_call_page, record_call_end
from ..validation import MAX_KEY, mask_phone
from . import acknowledge_as
from .models import TwilioEvent
from .replays import SeenRequests
from .twilio import verify_signature

logger = logging.getLogger(__name__)

bp = Blueprint("twilio_voice", __name__, url_prefix="/twilio/voice")
bp.before_request(verify_signature)

GATHER_SECONDS = 8    # how long the call waits for a key after the prompt
LAST_ATTEMPT = 2      # a wrong key replays the page once; then the call says goodbye

_SEEN = SeenRequests(TwilioEvent, lambda key: TwilioEvent(key=key, created_at=utcnow()))


def _page_id() -> int | None:
    raw = request.args.get("page", "")
    return int(raw) if raw.isdigit() and len(raw) <= 12 and int(raw) <= MAX_KEY else None


def _attempt() -> int:
    return LAST_ATTEMPT if request.args.get("attempt") == str(LAST_ATTEMPT) else 1


def _url(path: str, page_id: int, attempt: int) -> str:
    base = current_app.config["PUBLIC_BASE_URL"]
    return f"{base}/twilio/voice{path}?page={page_id}" + (f"&attempt={attempt}" if attempt > 1 else "")


def _say(response: VoiceResponse | Gather, text: str, locale: str) -> None:
    response.say(text, language=call_script.SAY_LANGUAGE[locale])


def _goodbye(text: str, locale: str) -> Response:
    response = VoiceResponse()
    _say(response, text, locale)
    response.hangup()
    return _xml(response)


def _xml(response: VoiceResponse) -> Response:
    return Response(response.to_xml(), status=200, content_type="application/xml; charset=utf-8")


def _default_locale() -> str:
    return call_script.call_locale(current_app.config.get("DEFAULT_LOCALE"))


def _closing(page: CallPage) -> str | None:
    """What to say instead of the page when there is nothing left to acknowledge."""
    if page.state == "open":
        return None
    return call_script.line(page.state, page.locale, reference=page.reference)


@bp.post("")
def answer():
    """The call was answered: read the page and ask for 1 (TwiML). Reads only, so a replay is harmless."""
    page_id = _page_id()
    page = get_call_page(page_id) if page_id is not None else None
    if page is None:
        return _goodbye(call_script.line("gone", _default_locale()), _default_locale())
    if closing := _closing(page):
        return _goodbye(closing, page.locale)
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=_url("/gather", page.page_id, _attempt()), method="POST",
                    timeout=GATHER_SECONDS)
    _say(gather, page.text, page.locale)
    _say(gather, call_script.line("prompt", page.locale), page.locale)
    response.append(gather)
    _say(response, call_script.line("no_input", page.locale), page.locale)
    response.hangup()
    return _xml(response)


@bp.post("/gather")
def gather():
    """A key pressed during the call: 1 acknowledges as the person called; another replays the page once."""
    sid = (request.form.get("CallSid") or "")[:64]
    key = f"gather:{sid}:{_attempt()}" if sid else None
    if not _SEEN.claim(key):
        logger.info("twilio gather %s seen before: ignored", sid)
        return _xml(VoiceResponse())
    reply = _answer_key(request.form.get("Digits", ""), request.form.get("To", ""))
    _SEEN.settle(key)
    return reply


def _answer_key(digits: str, called: str) -> Response:
    page_id = _page_id()
    page = get_call_page(page_id) if page_id is not None else None
    if page is None:
        return _goodbye(call_script.line("gone", _default_locale()), _default_locale())
    if digits == "1":
        who = page.user.email if page.user is not None else mask_phone(called)
        result = acknowledge_as(page.user, page.incident_id, who=who, via="voice")
        logger.info("call acknowledgement of %s from %s: %s", result.reference, mask_phone(called), result.outcome)
        return _goodbye(call_script.line(result.outcome, page.locale, reference=result.reference), page.locale)
    if _attempt() < LAST_ATTEMPT:
        response = VoiceResponse()
        _say(response, call_script.line("other_key", page.locale), page.locale)
        response.redirect(_url("", page.page_id, LAST_ATTEMPT), method="POST")
        return _xml(response)
    return _goodbye(call_script.line("no_input", page.locale), page.locale)


@bp.post("/status")
def status():
    """How the call ended: unanswered (or answered without a 1) moves the page on to the level's next channel."""
    form = request.form
    sid, call_status = (form.get("CallSid") or "")[:64], (form.get("CallStatus") or "")[:24]
    key = f"call:{sid}:{call_status}" if sid else None
    if not _SEEN.claim(key):
        logger.info("twilio call status %s %s seen before: ignored", sid, call_status)
        return _xml(VoiceResponse())
    page_id = _page_id()
    seconds = form.get("CallDuration", "")
    duration = int(seconds) if seconds.isdigit() and len(seconds) < 7 else None
    moved = None
    if page_id is not None:
        moved = record_call_end(page_id, status=call_status, duration=duration,
                                error_code=(form.get("ErrorCode") or "")[:10] or None)
    logger.info("call %s ended: %s; next channels %s", sid, call_status, moved or "none")
    _SEEN.settle(key)
    return _xml(VoiceResponse())
