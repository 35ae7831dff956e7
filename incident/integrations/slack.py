"""Slack webhooks: the page's Acknowledge button (/slack/interactions) and /incident (/slack/commands).

Every request is checked against Slack's signature before anything is read or written. Slack
wants an answer within three seconds, so nothing here calls Slack: the acknowledgement
queues the edit of the page through the outbox, and the worker sends it.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from flask import Blueprint, current_app, jsonify, request
from slack_sdk.signature import Clock, SignatureVerifier
from sqlalchemy import select

from ..auth.models import User
from ..clock import utcnow
from ..errors import BadRequest, Unauthorized
from ..escalation.models import SlackEvent
from ..escalation.service import escalation_view
from ..extensions import db
from ..flows import declare_incident
from ..incidents.models import Incident
from ..incidents.policy import SEVERITIES
from ..roles.service import holders_by_incident
from . import AckResult, acknowledge_as, parse_incident_ref
from .replays import SeenRequests

logger = logging.getLogger(__name__)

bp = Blueprint("slack", __name__, url_prefix="/slack")
_SEEN = SeenRequests(SlackEvent, lambda key: SlackEvent(key=key, received_at=utcnow(), handled=True))

DEFAULT_SEVERITY = "SEV2"
TITLE_MAX = 200
NOT_STAFF = "You are not on Tocsin's staff, so Tocsin cannot do that for you."
NOT_STAFF_ACK = "You are not on Tocsin's on-call staff, so this acknowledgement was not recorded as one."
NEEDS_LEAD = "Declaring an incident needs the lead permission in Tocsin."
ALREADY_HANDLED = "Tocsin has already received and handled this request."


# Parsing: pure -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    """What `/incident <text>` asks for."""

    verb: str                        # ack | status | declare | help
    incident_id: int | None = None
    title: str = ""
    severity: str = DEFAULT_SEVERITY
    problem: str = ""                # why the text was not understood, shown above the usage


@dataclass(frozen=True)
class Interaction:
    """The one thing Tocsin does with a button click: acknowledge."""

    slack_user: str
    incident_id: int | None
    key: str | None                  # identifies this delivery, so a retry changes nothing


def slack_unescape(text: str) -> str:
    """Undo Slack's escaping of &, < and > in the text it sends."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def slack_escape(text: str) -> str:
    """Escape &, < and > so user text shows as typed in Slack mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def parse_command(text: str) -> Command:
    """`ack INC-42`, `status 42`, `declare [SEV1] <title>`, `help`; anything else is help with a problem."""
    words = text.strip().split(None, 1)
    if not words:
        return Command("help")
    verb, rest = words[0].lower(), words[1] if len(words) > 1 else ""
    if verb in ("ack", "acknowledge", "status"):
        incident_id = parse_incident_ref(rest)
        if incident_id is None:
            return Command("help", problem=f"Which incident? For example `{verb} INC-42`.")
        return Command("ack" if verb != "status" else "status", incident_id)
    if verb == "declare":
        return _parse_declare(rest)
    return Command("help", problem="" if verb == "help" else "Tocsin did not understand that.")


def _parse_declare(rest: str) -> Command:
    words = rest.strip().split(None, 1)
    severity = DEFAULT_SEVERITY
    if words and words[0].upper() in SEVERITIES:
        severity, rest = words[0].upper(), words[1] if len(words) > 1 else ""
    title = " ".join(slack_unescape(rest).split())
    if not title:
        return Command("help", problem="Give the incident a title, e.g. `declare SEV1 Login failing in the EU`.")
    if len(title) > TITLE_MAX:
        return Command("help", problem=f"Keep the title to {TITLE_MAX} characters.")
    return Command("declare", title=title, severity=severity)


def parse_interaction(payload: dict) -> Interaction | None:
    """The acknowledgement a block_actions payload asks for; None for any other click."""
    actions = payload.get("actions")
    action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    if payload.get("type") != "block_actions" or action.get("action_id") != "acknowledge":
        return None
    user = payload["user"] if isinstance(payload.get("user"), dict) else {}
    slack_user = str(user.get("id") or "")
    trigger = payload.get("trigger_id") or (f"{slack_user}:{action['action_ts']}" if action.get("action_ts") else None)
    return Interaction(slack_user, parse_incident_ref(str(action.get("value") or "")),
                       f"interaction:{trigger}"[:200] if trigger else None)


# How the replies read: pure ------------------------------------------------------------------

def usage_text(command: str = "/incident", problem: str = "") -> str:
    lines = [problem] if problem else []
    lines += [f"*Tocsin* — `{command}` commands:",
              f"• `{command} ack INC-42` — acknowledge a page",
              f"• `{command} status INC-42` — where an incident stands",
              f"• `{command} declare [SEV1-SEV4] <title>` — declare an outage (leads; SEV2 unless you say)",
              f"• `{command} help` — this list"]
    return "\n".join(lines)


def ack_text(result: AckResult) -> str:
    return {
        "first": f"You acknowledged {result.reference}. The escalation has stopped; thank you.",
        "duplicate": f"{result.reference} was already acknowledged; yours is noted too.",
        "not_found": f"Tocsin has no incident {result.reference}.",
        "unknown_sender": NOT_STAFF_ACK,
        "not_allowed": f"Your Tocsin role ({result.role}) cannot acknowledge pages, "
                       "so this acknowledgement was not recorded as one.",
    }[result.outcome]


def _slack_time(value: str) -> str:
    """An ISO time as Slack's <!date> token: local time for the reader, UTC as the fallback."""
    moment = datetime.fromisoformat(value)
    return f"<!date^{int(moment.timestamp())}^{{date_short}} {{time}}|{moment:%Y-%m-%d %H:%M} UTC>"


def status_text(facts: dict) -> str:
    """How `/incident status` reads: what, how bad, who commands, where the escalation stands."""
    if facts["level"] is None:
        escalation = "not started"
    elif facts["state"] == "paging":
        escalation = f"level {facts['level']}, next deadline {_slack_time(facts['next_deadline_at'])}"
    else:
        escalation = f"{facts['state']} at level {facts['level']}"
    return (f"*<{facts['url']}|{facts['reference']}>* {facts['severity']}: {slack_escape(facts['title'])}\n"
            f"Status: {facts['status']}\nCommander: {facts['commander'] or 'nobody yet'}\n"
            f"Escalation: {escalation}")


def declared_text(facts: dict) -> str:
    return (f"{facts['severity']} *<{facts['url']}|{facts['reference']}>* declared by "
            f"{slack_escape(facts['by'])}: {slack_escape(facts['title'])}")


# Use cases -----------------------------------------------------------------------------------

def staff_by_slack_id(slack_user: str) -> User | None:
    """The staff member with this Slack user id, if any."""
    if not slack_user:
        return None
    return db.session.scalar(select(User).where(User.slack_id == slack_user))


def acknowledge_from_slack(user: User | None, slack_user: str, incident_id: int, *,
                           key: str | None) -> AckResult | None:
    """Acknowledge from a button or `/incident ack`, once per Slack delivery (None for a repeat)."""
    if not _SEEN.claim(key):
        return None
    result = acknowledge_as(user, incident_id, who=slack_user, via="slack")
    _SEEN.settle(key)
    logger.info("slack acknowledgement of %s by %s: %s", result.reference, slack_user, result.outcome)
    return result


def declare_from_slack(user: User, *, title: str, severity: str, key: str | None) -> dict | None:
    """Declare from `/incident declare`, once per Slack delivery (None for a repeat)."""
    if not _SEEN.claim(key):
        return None
    incident = declare_incident(user, title=title, severity=severity)  # commits the key with it
    return {"reference": incident.reference, "severity": incident.severity, "title": incident.title,
            "by": user.label, "url": f"{current_app.config['PUBLIC_BASE_URL']}/incidents/{incident.id}"}


def incident_status(incident_id: int) -> dict | None:
    """What `/incident status` shows, or None when there is no such incident."""
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        return None
    view = escalation_view(incident)
    return {"reference": incident.reference, "title": incident.title, "severity": incident.severity,
            "status": incident.status, "commander": holders_by_incident([incident.id])[incident.id].get("commander"),
            "level": view["level"], "state": view["state"], "next_deadline_at": view["next_deadline_at"],
            "url": f"{current_app.config['PUBLIC_BASE_URL']}/incidents/{incident.id}"}


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


@bp.post("/interactions")
def interactions():
    """Block Kit clicks: the page's Acknowledge button acknowledges; other buttons need nothing."""
    try:
        payload = json.loads(request.form.get("payload", ""))
    except ValueError:
        raise BadRequest("The interaction payload is not JSON.") from None
    except RecursionError:  # thousands of brackets: json stops at Python's recursion limit
        raise BadRequest("The interaction payload is nested too deeply.") from None
    wanted = parse_interaction(payload) if isinstance(payload, dict) else None
    if wanted is None:
        return "", 200
    if wanted.incident_id is None:
        return _reply("That button does not name a Tocsin incident.")
    result = acknowledge_from_slack(staff_by_slack_id(wanted.slack_user), wanted.slack_user,
                                    wanted.incident_id, key=wanted.key)
    return _reply(ack_text(result) if result else ALREADY_HANDLED)


@bp.post("/commands")
def commands():
    """`/incident ack|status|declare|help`; answers are ephemeral except a declaration."""
    form = request.form
    if form.get("ssl_check") == "1":
        return "", 200
    command, slack_user = parse_command(form.get("text", "")), form.get("user_id", "")
    key = f"command:{form['trigger_id']}"[:200] if form.get("trigger_id") else None
    if command.verb == "help":
        return _reply(usage_text(form.get("command") or "/incident", command.problem))
    user = staff_by_slack_id(slack_user)
    if command.verb == "ack":
        result = acknowledge_from_slack(user, slack_user, command.incident_id, key=key)
        return _reply(ack_text(result) if result else ALREADY_HANDLED)
    if user is None or not user.can("viewer"):
        return _reply(NOT_STAFF)
    if command.verb == "status":
        facts = incident_status(command.incident_id)
        return _reply(status_text(facts) if facts else f"Tocsin has no incident INC-{command.incident_id}.")
    if not user.can("lead"):
        return _reply(NEEDS_LEAD)
    facts = declare_from_slack(user, title=command.title, severity=command.severity, key=key)
    return _reply(declared_text(facts), in_channel=True) if facts else _reply(ALREADY_HANDLED)
