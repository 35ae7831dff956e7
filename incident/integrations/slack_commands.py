"""`/incident` in Slack: what a command's text asks for, and how the answers read. Pure.

    /incident                                   the declare form (a modal)
    /incident declare [SEV1-SEV4] <title>       (no title: the form)
    /incident update [INC-42] [internal] <status> <message>   (no text: the update form)
    /incident role [INC-42] <role> @someone
    /incident resolve [INC-42] [message]
    /incident note [INC-42] <text>
    /incident escalate [INC-42] [next|engineering|swarm|<level>] [reason]
    /incident page [INC-42] @someone [message]
    /incident ack|status [INC-42]
    /incident help

In an incident's own channel the incident is implied; elsewhere it is named (`INC-42`, `#42`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ..incidents.policy import SEVERITIES, STATUSES
from ..roles.policy import ROLES
from . import AckResult, parse_incident_ref

DEFAULT_SEVERITY = "SEV2"
TITLE_MAX = 200
TEXT_MAX = 5000
NOT_STAFF = "You are not on Tocsin's staff, so Tocsin cannot do that for you."
NOT_STAFF_ACK = "You are not on Tocsin's on-call staff, so this acknowledgement was not recorded as one."
NEEDS_LEAD = "Declaring an incident needs the lead permission in Tocsin."
ALREADY_HANDLED = "Tocsin has already received and handled this request."
WHICH_INCIDENT = ("Which incident? Name it (`{verb} INC-42`) or run the command in the incident's own channel.")

# What each command needs, as the API route for the same change requires it (incidents/routes.py,
# roles/routes.py, escalation/routes.py); `ack` is refused, and recorded, by the service itself.
NEEDS = {"status": "viewer", "ack": "viewer", "declare": "lead", "update": "lead", "resolve": "lead",
         "role": "lead", "note": "agent", "escalate": "engineer", "page": "engineer"}
WHAT = {"declare": "declaring an incident", "update": "posting a status update", "resolve": "resolving",
        "role": "assigning crisis roles", "note": "adding a note", "escalate": "escalating",
        "page": "paging someone", "status": "reading an incident"}
ROLE_ALIASES = {"ic": "commander", "incident_commander": "commander", "comms": "communications",
                "tech_lead": "technical_lead", "tl": "technical_lead", "liaison": "customer_liaison",
                "sme": "subject_matter_expert", "expert": "subject_matter_expert"}
_STRICT_REF = re.compile(r"^(?:inc-?\d{1,9}|#\d{1,9})$", re.IGNORECASE)
_MENTION = re.compile(r"^<@([UW][A-Z0-9]{1,30})(?:\|[^>]*)?>$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
INTERNAL = ("internal", "--internal")


@dataclass(frozen=True)
class Command:
    """What `/incident <text>` asks for."""

    verb: str                        # ack status declare update role resolve note escalate page help
    incident_id: int | None = None
    title: str = ""
    severity: str = DEFAULT_SEVERITY
    problem: str = ""                # why the text was not understood, shown above the usage
    status: str | None = None        # update: the new status
    message: str = ""                # update, resolve, note: the text; escalate, page: the reason
    public: bool = True              # update: false with `internal`
    role: str | None = None          # role: which crisis role
    target: str | None = None        # role, page: a Slack user id (U…) or an email
    level: str | None = None         # escalate: None (next), "swarm" or a level's name
    modal: bool = False              # declare, update: open the form


def slack_unescape(text: str) -> str:
    """Undo Slack's escaping of &, < and > in the text it sends."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def slack_escape(text: str) -> str:
    """Escape &, < and > so user text shows as typed in Slack mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _split(text: str) -> tuple[str, str]:
    words = text.strip().split(None, 1)
    return (words[0], words[1] if len(words) > 1 else "") if words else ("", "")


def _text(raw: str) -> str:
    return slack_unescape(raw).strip()


def parse_target(word: str) -> str | None:
    """A Slack mention (`<@U123|bo>`) as its user id, or an email; None for anything else."""
    if match := _MENTION.match(word):
        return match.group(1)
    return word.lower() if _EMAIL.match(slack_unescape(word)) else None


def parse_command(text: str) -> Command:
    """The command in the text after `/incident`; anything not understood is help with a problem."""
    verb, rest = _split(text)
    verb = verb.lower()
    if not verb:
        return Command("declare", modal=True)
    if verb in ("ack", "acknowledge", "status"):
        if not rest.strip():
            return Command("ack" if verb != "status" else "status")
        incident_id = parse_incident_ref(rest)
        if incident_id is None:
            return Command("help", problem=WHICH_INCIDENT.format(verb=verb))
        return Command("ack" if verb != "status" else "status", incident_id)
    if verb == "declare":
        return _parse_declare(rest)
    if verb in _PARSERS:
        first, after = _split(rest)
        incident_id = parse_incident_ref(first) if _STRICT_REF.match(first) else None
        return _PARSERS[verb](incident_id, after if incident_id is not None else rest)
    return Command("help", problem="" if verb == "help" else "Tocsin did not understand that.")


def _parse_declare(rest: str) -> Command:
    if not rest.strip():
        return Command("declare", modal=True)
    severity, after = _split(rest)
    if severity.upper() in SEVERITIES:
        severity, rest = severity.upper(), after
    else:
        severity = DEFAULT_SEVERITY
    title = " ".join(slack_unescape(rest).split())
    if not title:
        return Command("help", problem="Give the incident a title, e.g. `declare SEV1 Login failing in the EU`.")
    if len(title) > TITLE_MAX:
        return Command("help", problem=f"Keep the title to {TITLE_MAX} characters.")
    return Command("declare", title=title, severity=severity)


def _too_long(message: str) -> Command | None:
    return Command("help", problem=f"Keep the text to {TEXT_MAX} characters.") if len(message) > TEXT_MAX else None


def _parse_update(incident_id: int | None, rest: str) -> Command:
    words = rest.split()
    if not words:
        return Command("update", incident_id, modal=True)
    public = not any(w.lower() in INTERNAL for w in words[:1]) and "--internal" not in (w.lower() for w in words)
    status, message = _split(" ".join(w for i, w in enumerate(words)
                                      if not (w.lower() == "--internal" or (i == 0 and w.lower() == "internal"))))
    if status.lower() not in STATUSES:
        return Command("help", problem=f"Which status? One of {', '.join(STATUSES)}, e.g. "
                                       "`update identified Bad deploy rolled back`.")
    return _too_long(_text(message)) or Command("update", incident_id, status=status.lower(), message=_text(message),
                                                public=public)


def _parse_role(incident_id: int | None, rest: str) -> Command:
    role, after = _split(rest)
    role = role.lower().replace("-", "_")
    role = ROLE_ALIASES.get(role, role)
    target, _ = _split(after)
    if role not in ROLES:
        return Command("help", problem=f"Which role? One of {', '.join(ROLES)}, e.g. `role technical_lead @bo`.")
    if parse_target(target) is None:
        return Command("help", problem="Whom? Mention them (`@bo`) or give their email.")
    return Command("role", incident_id, role=role, target=parse_target(target))


def _parse_resolve(incident_id: int | None, rest: str) -> Command:
    return _too_long(_text(rest)) or Command("resolve", incident_id, message=_text(rest))


def _parse_note(incident_id: int | None, rest: str) -> Command:
    if not rest.strip():
        return Command("help", problem="What should the note say? e.g. `note Rolled back 4.2.1 at 09:40`.")
    return _too_long(_text(rest)) or Command("note", incident_id, message=_text(rest))


def _parse_escalate(incident_id: int | None, rest: str) -> Command:
    first, after = _split(rest)
    word = first.lower()
    if word == "next":
        return Command("escalate", incident_id, message=_text(after)[:1000])
    if word == "swarm":
        return Command("escalate", incident_id, level="swarm", message=_text(after)[:1000])
    # Any other first word may be a level of the incident's policy; the use case decides.
    return Command("escalate", incident_id, level=first or None, message=_text(rest)[:1000])


def _parse_page(incident_id: int | None, rest: str) -> Command:
    target, message = _split(rest)
    if parse_target(target) is None:
        return Command("help", problem="Whom should Tocsin page? Mention them, e.g. `page @bo`.")
    return Command("page", incident_id, target=parse_target(target), message=_text(message)[:1000])


_PARSERS = {"update": _parse_update, "role": _parse_role, "resolve": _parse_resolve, "note": _parse_note,
            "escalate": _parse_escalate, "page": _parse_page}


# How the replies read ---------------------------------------------------------------------------

def usage_text(command: str = "/incident", problem: str = "") -> str:
    lines = [problem] if problem else []
    lines += [f"*Tocsin* — `{command}` commands (in an incident's channel, leave out `INC-42`):",
              f"• `{command}` or `{command} declare [SEV1-SEV4] <title>` — declare an outage (leads; the form "
              "without a title; SEV2 unless you say)",
              f"• `{command} update INC-42 [internal] <status> <message>` — post a status update (public "
              "unless `internal`; the form without text)",
              f"• `{command} role INC-42 <role> @someone` — hand out a crisis role",
              f"• `{command} resolve INC-42 [message]` — resolve",
              f"• `{command} note INC-42 <text>` — a note for the timeline",
              f"• `{command} escalate INC-42 [next|engineering|swarm] [reason]` — escalate",
              f"• `{command} page INC-42 @someone [message]` — page one person",
              f"• `{command} ack INC-42` — acknowledge a page",
              f"• `{command} status INC-42` — where an incident stands",
              f"• `{command} help` — this list"]
    return "\n".join(lines)


def needs_text(verb: str, role: str) -> str:
    if verb == "declare":
        return NEEDS_LEAD
    return f"{WHAT[verb][0].upper()}{WHAT[verb][1:]} needs the {NEEDS[verb]} permission in Tocsin; you are {role}."


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
