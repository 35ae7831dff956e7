"""Slack webhooks: /incident (/slack/commands), buttons, tick boxes and forms (/slack/interactions)
and the Events API (/slack/events).

Every request is checked against Slack's signature before anything is read or written. Slack
wants an answer within three seconds, so nothing here calls Slack: what must reach Slack (a
form to open, an edited page, a message) is an outbox row the worker sends.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from flask import Blueprint, current_app, jsonify, request
from slack_sdk.signature import Clock, SignatureVerifier

from ..clock import utcnow
from ..errors import BadRequest, Unauthorized
from ..roles.slack_checklist import ACTION as CHECKLIST_ACTION
from . import parse_incident_ref
from .slack_commands import (  # noqa: F401  (the names the tests and other modules know this module by)
    ALREADY_HANDLED,
    NEEDS_LEAD,
    NOT_STAFF,
    NOT_STAFF_ACK,
    Command,
    ack_text,
    parse_command,
    slack_escape,
    slack_unescape,
)
from .slack_events import handle_event, tick_from_slack
from .slack_forms import submit_view
from .slack_service import Origin, acknowledge_from_slack, run_command, staff_by_slack_id

logger = logging.getLogger(__name__)

bp = Blueprint("slack", __name__, url_prefix="/slack")


@dataclass(frozen=True)
class Interaction:
    """The one thing Tocsin does with a page's button: acknowledge."""

    slack_user: str
    incident_id: int | None
    key: str | None                  # identifies this delivery, so a retry changes nothing


def _first_action(payload: dict) -> dict:
    actions = payload.get("actions")
    return actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}


def _slack_user(payload: dict) -> str:
    user = payload["user"] if isinstance(payload.get("user"), dict) else {}
    return str(user.get("id") or "")


def parse_interaction(payload: dict) -> Interaction | None:
    """The acknowledgement a block_actions payload asks for; None for any other click."""
    action = _first_action(payload)
    if payload.get("type") != "block_actions" or action.get("action_id") != "acknowledge":
        return None
    slack_user = _slack_user(payload)
    trigger = payload.get("trigger_id") or (f"{slack_user}:{action['action_ts']}" if action.get("action_ts") else None)
    return Interaction(slack_user, parse_incident_ref(str(action.get("value") or "")),
                       f"interaction:{trigger}"[:200] if trigger else None)


# Routes --------------------------------------------------------------------------------------

class _AppClock(Clock):
    """Slack's five-minute window measured on Tocsin's clock, so tests can move it."""

    def now(self) -> float:
        return utcnow().timestamp()


@bp.before_request
def _verify_signature() -> None:
    secret = (current_app.config.get("SLACK_SIGNING_SECRET") or "").strip()
    if not secret:
        raise Unauthorized("Slack is not configured on this Tocsin.", code="slack_not_configured")
    headers = cast(Mapping[str, str], request.headers)  # werkzeug's Headers: a mapping in all but its type
    try:
        valid = SignatureVerifier(secret, clock=_AppClock()).is_valid_request(request.get_data(), headers)
    except ValueError:  # a timestamp that is not a number, a body that is not UTF-8
        valid = False
    if not valid:
        logger.warning("slack request refused: bad or stale signature on %s", request.path)
        raise Unauthorized("The Slack signature is missing, wrong or too old.", code="invalid_signature")


def _reply(text: str, *, in_channel: bool = False):
    return jsonify({"response_type": "in_channel" if in_channel else "ephemeral", "text": text})


def _json(raw: str | bytes, what: str):
    try:
        return json.loads(raw)
    except ValueError:
        raise BadRequest(f"The {what} is not JSON.") from None
    except RecursionError:  # thousands of brackets: json stops at Python's recursion limit
        raise BadRequest(f"The {what} is nested too deeply.") from None


@bp.post("/interactions")
def interactions():
    """Block Kit: the page's Acknowledge button, checklist tick boxes, and submitted forms."""
    payload = _json(request.form.get("payload", ""), "interaction payload")
    if not isinstance(payload, dict):
        return "", 200
    if payload.get("type") == "view_submission" and isinstance(payload.get("view"), dict):
        view = payload["view"]
        key = f"view:{view.get('id')}:{view.get('hash')}"[:200] if view.get("id") else None
        answer = submit_view(view, Origin(_slack_user(payload), key=key))
        return (jsonify(answer), 200) if answer else ("", 200)
    action = _first_action(payload)
    if payload.get("type") == "block_actions" and action.get("action_id") == CHECKLIST_ACTION:
        tick_from_slack(payload, action)
        return "", 200
    wanted = parse_interaction(payload)
    if wanted is None:
        return "", 200
    if wanted.incident_id is None:
        return _reply("That button does not name a Tocsin incident.")
    result = acknowledge_from_slack(staff_by_slack_id(wanted.slack_user), wanted.slack_user,
                                    wanted.incident_id, key=wanted.key)
    return _reply(ack_text(result) if result else ALREADY_HANDLED)


@bp.post("/commands")
def commands():
    """`/incident …` (see slack_commands.py); answers are ephemeral except a declaration."""
    form = request.form
    if form.get("ssl_check") == "1":
        return "", 200
    key = f"command:{form['trigger_id']}"[:200] if form.get("trigger_id") else None
    origin = Origin(form.get("user_id", ""), form.get("channel_id", ""), form.get("trigger_id") or None, key)
    reply = run_command(parse_command(form.get("text", "")), origin, name=form.get("command") or "/incident")
    if reply is None:  # a form opens: Slack wants an empty 200
        return "", 200
    return _reply(reply.text, in_channel=reply.in_channel)


@bp.post("/events")
def events():
    """The Events API: the URL check, then pins and :pushpin: reactions in incident channels."""
    payload = _json(request.get_data(), "event")
    if not isinstance(payload, dict):
        raise BadRequest("The event is not a JSON object.")
    if payload.get("type") == "url_verification":
        return jsonify({"challenge": str(payload.get("challenge") or "")})
    if payload.get("type") == "event_callback":
        handle_event(payload)
    return "", 200
