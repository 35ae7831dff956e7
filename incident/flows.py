"""Use cases that span features: each calls both sides, in one unit of work.

The features below never import this module (imports point down: edges -> flows -> features).
What a feature only needs to hear about (an incident changed, was resolved, got tickets) goes
by the signals in `incidents.signals` and `tickets.signals` instead.
"""
from __future__ import annotations

import logging

from sqlalchemy import delete

from .auth.models import User
from .auth.service import get_user_by_email_or_raise
from .errors import NotFound, ValidationFailed
from .extensions import db
from .incidents import slack_rooms
from .incidents.models import Incident
from .incidents.service import open_incident
from .roles.service import add_role_term
from .tickets.floods import signal_filter
from .tickets.models import FloodSignal
from .tickets.service import add_link_rule, link_by_filter
from .uow import unit_of_work

logger = logging.getLogger(__name__)


def declare_incident(actor: User, *, title: str, severity: str, summary: str = "",
                     services: list[str] | tuple[str, ...] = (), mode: str = "tiered",
                     commander: str | None = None, private: bool = False) -> Incident:
    """Declare an outage; the declarer (or the named commander) takes command, and a major one
    gets its Slack channel."""
    with unit_of_work():
        commander_user = get_user_by_email_or_raise(commander) if commander else actor
        incident = open_incident(actor, title=title, severity=severity, summary=summary, services=services,
                                 mode=mode, private=private)
        add_role_term(incident, "commander", commander_user, actor)
        slack_rooms.open_room(incident, commander=commander_user.email,
                              invite=[commander_user.slack_id, actor.slack_id])
    logger.info("%s declared (%s) by %s", incident.reference, severity, actor.email)
    return incident


def declare_from_flood(actor: User, *, kind: str, key: str, severity: str = "SEV3",
                       title: str | None = None) -> tuple[Incident, int]:
    """One action: declare an incident for a flood, link its tickets and keep linking new ones.
    All of it lands, or none of it."""
    with unit_of_work():
        signal = db.session.get(FloodSignal, (kind, key))
        if signal is None:
            raise NotFound(f"No current flood on {kind} {key!r}.", code="flood_not_found")
        ticket_filter = signal_filter(signal)
        incident = declare_incident(
            actor, title=title or f"Possible outage: {kind} {key}", severity=severity,
            summary=f"{signal.recent} tickets on {kind} {key} since "
                    f"{signal.window_start:%H:%M} UTC ({signal.ratio:.0f}x the usual rate).",
            services=[key] if kind == "service" else [])
        try:
            linked = link_by_filter(actor, incident.id, ticket_filter)["linked"]
        except ValidationFailed:  # linked elsewhere since the detector saw them: the rule still helps
            linked = 0
        add_link_rule(actor, incident.id, tags=list(ticket_filter.tags), text="",
                      services=list(ticket_filter.services))
        db.session.execute(delete(FloodSignal).where(FloodSignal.kind == kind, FloodSignal.key == key))
    return incident, linked
