"""What `/incident` and the Slack forms do: match the Slack user to staff, check their permission as
the API does, call the incidents, roles and escalation use cases, and say what changed or why not.

Nothing here calls Slack: a form to open is an outbox row the worker sends (`slack_view`), and
each delivery is handled once (its key in `slack_events`, written with the change).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from ..auth.models import User
from ..auth.service import get_user_by_email
from ..clock import utcnow
from ..errors import AppError
from ..escalation.models import SlackEvent
from ..escalation.service import escalate, escalation_view, frozen_policy, page_user, policy_for
from ..extensions import db
from ..flows import declare_incident
from ..incidents.models import Incident, may_see
from ..incidents.service import add_note, post_update
from ..outbox.models import Delivery
from ..roles.policy import ROLES
from ..roles.service import assign_role, holders_by_incident
from ..vocabulary import Channel, DeliveryStatus
from . import AckResult, acknowledge_as
from . import slack_commands as say
from . import slack_views as views
from .replays import SeenRequests

logger = logging.getLogger(__name__)
SEEN = SeenRequests(SlackEvent, lambda key: SlackEvent(key=key, received_at=utcnow(), handled=True))


@dataclass(frozen=True)
class Origin:
    """Who sent a command or form, from where, and the key of this delivery."""

    slack_user: str
    channel_id: str = ""
    trigger_id: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Reply:
    text: str
    in_channel: bool = False


def staff_by_slack_id(slack_user: str) -> User | None:
    """The staff member with this Slack user id, if any."""
    if not slack_user:
        return None
    return db.session.scalar(select(User).where(User.slack_id == slack_user))


def incident_for_channel(channel_id: str) -> Incident | None:
    """The incident whose own Slack channel this is, if any."""
    if not channel_id:
        return None
    return db.session.scalar(select(Incident).where(Incident.slack_channel_id == channel_id).limit(1))


def hidden_from(incident_id: int, user: User) -> bool:
    """True for a private incident this staff member may not see (visibility.py, as in the API)."""
    incident = db.session.get(Incident, incident_id)
    return incident is not None and not may_see(incident, user)


def refused(origin: Origin, verb: str, reason: str, text: str) -> Reply:
    """Say no politely, and record it (the log is the record: no Slack user id is staff data)."""
    logger.warning("slack /incident %s refused for %s in %s: %s", verb, origin.slack_user, origin.channel_id, reason)
    return Reply(text)


def _url(incident_id: int) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/incidents/{incident_id}"


def _target(target: str) -> User | None:
    return staff_by_slack_id(target) if "@" not in target else get_user_by_email(target)


def _who(target: str) -> str:
    return f"<@{target}>" if "@" not in target else say.slack_escape(target)


# The commands ---------------------------------------------------------------------------------

def run_command(command: say.Command, origin: Origin, *, name: str = "/incident") -> Reply | None:
    """Do what the command asks for as the sender; the answer to show them (None: a form opens)."""
    if command.verb == "help":
        return Reply(say.usage_text(name, command.problem))
    here = incident_for_channel(origin.channel_id)
    incident_id = command.incident_id or (here.id if here else None)
    user = staff_by_slack_id(origin.slack_user)
    if command.verb == "ack":
        if incident_id is None:
            return Reply(say.WHICH_INCIDENT.format(verb="ack"))
        if user is not None and hidden_from(incident_id, user):
            return Reply(f"Tocsin has no incident INC-{incident_id}.")
        result = acknowledge_from_slack(user, origin.slack_user, incident_id, key=origin.key)
        return Reply(say.ack_text(result) if result else say.ALREADY_HANDLED)
    if user is None or not user.can("viewer"):
        return refused(origin, command.verb, "not on staff", say.NOT_STAFF)
    if not user.can(say.NEEDS[command.verb]):
        return refused(origin, command.verb, f"{user.email} is {user.role}", say.needs_text(command.verb, user.role))
    if command.verb == "declare":
        return _declare(user, command, origin)
    if incident_id is None:
        return Reply(say.WHICH_INCIDENT.format(verb=command.verb))
    incident = db.session.get(Incident, incident_id)
    if incident is None or not may_see(incident, user):   # a private incident does not exist for others
        return Reply(f"Tocsin has no incident INC-{incident_id}.")
    if command.verb == "status":
        return Reply(say.status_text(incident_status(incident)))
    if command.modal:
        queue_view(origin, views.update_view(incident_id=incident.id, reference=incident.reference,
                                             title=incident.title, status=incident.status))
        return None
    if not SEEN.claim(origin.key):
        return Reply(say.ALREADY_HANDLED)
    try:
        reply = _CHANGES[command.verb](user, incident, command)
    except AppError as error:
        reply = Reply(f"Nothing changed on {incident.reference}: {error.message}")
    SEEN.settle(origin.key)
    logger.info("slack /incident %s on %s by %s", command.verb, incident.reference, user.email)
    return reply


def _declare(user: User, command: say.Command, origin: Origin) -> Reply | None:
    if command.modal:
        queue_view(origin, views.declare_view(channel_id=origin.channel_id))
        return None
    facts = declare_from_slack(user, title=command.title, severity=command.severity, key=origin.key)
    return Reply(say.declared_text(facts), in_channel=True) if facts else Reply(say.ALREADY_HANDLED)


def update_reply(user: User, incident: Incident, command: say.Command) -> Reply:
    """Post the update a command or form asks for, and say what was posted."""
    update = post_update(user, incident.id, status=command.status, message=command.message, public=command.public)
    seen = "a public" if update.public else "an internal"
    return Reply(f"Posted {seen} update on {incident.reference}: status {update.status}"
                 + (f" — {say.slack_escape(update.message)}" if update.message else "") + ".")


def _resolve(user: User, incident: Incident, command: say.Command) -> Reply:
    if not incident.is_open:
        return Reply(f"{incident.reference} is resolved already.")
    post_update(user, incident.id, status="resolved", message=command.message, public=True)
    return Reply(f"Resolved {incident.reference}. The post-incident review: <{_url(incident.id)}/review|"
                 f"{incident.reference} review>.")


def _role(user: User, incident: Incident, command: say.Command) -> Reply:
    assert command.target and command.role
    holder = _target(command.target)
    if holder is None or not holder.active:
        return Reply(f"{_who(command.target)} is not on Tocsin's staff, so they cannot hold a role. "
                     "(Staff are matched by their Slack id.)")
    changed = assign_role(user, incident.id, command.role, user_email=holder.email)
    label = ROLES[command.role]
    if not changed:
        return Reply(f"{holder.label} is {label} on {incident.reference} already.")
    return Reply(f"{holder.label} is now {label} on {incident.reference}; their checklist is on its way to them.")


def _note(user: User, incident: Incident, command: say.Command) -> Reply:
    add_note(user, incident.id, command.message)
    return Reply(f"Noted on {incident.reference}'s timeline.")


def _levels(incident: Incident) -> list[str]:
    try:
        return [lv["name"] for lv in frozen_policy(incident.id)["levels"]]
    except AppError:
        row = policy_for(incident.severity, [s.name for s in incident.services])
        return [lv["name"] for lv in row.definition["levels"]] if row is not None else []


def _escalate(user: User, incident: Incident, command: say.Command) -> Reply:
    level, reason = command.level, command.message
    if level not in (None, "swarm"):
        if level in _levels(incident):
            reason = reason.split(None, 1)[1] if len(reason.split(None, 1)) > 1 else ""
        else:  # not a level: the whole text is the reason, and the escalation goes to the next level
            level = None
    esc = escalate(user, incident.id, level=None if level == "swarm" else level, reason=reason,
                   swarm=level == "swarm")
    view = escalation_view(incident)
    if esc.state != "paging":
        return Reply(f"Escalated {incident.reference}, but nobody could be paged ({esc.state}).")
    how = "every level at once (swarm)" if level == "swarm" else f"level {view['level']}"
    return Reply(f"Escalated {incident.reference}: paging {how}.")


def _page(user: User, incident: Incident, command: say.Command) -> Reply:
    assert command.target
    person = _target(command.target)
    if person is None or not person.active:
        return Reply(f"{_who(command.target)} is not on Tocsin's staff, so Tocsin cannot page them.")
    pages = page_user(user, incident.id, user=person, reason=command.message)
    return Reply(f"Paging {person.label} for {incident.reference} ({pages} page{'s' if pages != 1 else ''}).")


_CHANGES = {"update": update_reply, "resolve": _resolve, "role": _role, "note": _note, "escalate": _escalate,
            "page": _page}


def acknowledge_from_slack(user: User | None, slack_user: str, incident_id: int, *,
                           key: str | None) -> AckResult | None:
    """Acknowledge from a button or `/incident ack`, once per Slack delivery (None for a repeat)."""
    if not SEEN.claim(key):
        return None
    result = acknowledge_as(user, incident_id, who=slack_user, via="slack")
    SEEN.settle(key)
    logger.info("slack acknowledgement of %s by %s: %s", result.reference, slack_user, result.outcome)
    return result


def declare_from_slack(user: User, *, title: str, severity: str, key: str | None, summary: str = "",
                       services: list[str] | tuple[str, ...] = ()) -> dict | None:
    """Declare from `/incident declare` or the form, once per Slack delivery (None for a repeat)."""
    if not SEEN.claim(key):
        return None
    incident = declare_incident(user, title=title, severity=severity, summary=summary, services=services)
    return {"reference": incident.reference, "severity": incident.severity, "title": incident.title,
            "by": user.label, "url": _url(incident.id), "id": incident.id}


def incident_status(incident: Incident) -> dict:
    """What `/incident status` shows."""
    view = escalation_view(incident)
    return {"reference": incident.reference, "title": incident.title, "severity": incident.severity,
            "status": incident.status, "commander": holders_by_incident([incident.id])[incident.id].get("commander"),
            "level": view["level"], "state": view["state"], "next_deadline_at": view["next_deadline_at"],
            "url": _url(incident.id)}


# Forms ----------------------------------------------------------------------------------------

def queue_view(origin: Origin, view: dict) -> None:
    """Queue views.open for this trigger; the worker opens the form (Slack gives it three seconds)."""
    if not SEEN.claim(origin.key):  # Slack's retry of the same command: the form is on its way already
        return
    now = utcnow()
    db.session.add(Delivery(purpose="slack_view", dedupe_key=f"slack-view:{origin.trigger_id}"[:200],
                            channel=Channel.SLACK, recipient=origin.trigger_id or "", headers={"view": view},
                            text=f"Opens the form “{view['title']['text']}” for {origin.slack_user}",
                            status=DeliveryStatus.QUEUED, next_attempt_at=now, created_at=now, updated_at=now))
    SEEN.settle(origin.key)
