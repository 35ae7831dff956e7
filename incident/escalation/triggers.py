"""Trigger words: a linked ticket that says "data loss" sends its incident straight to engineering."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import or_, select

from ..extensions import db
from ..incidents.models import Incident
from ..tickets.models import Ticket
from ..tickets.queries import contains
from ..tickets.signals import tickets_linked
from .service import escalate_for_trigger


def trigger_words() -> list[str]:
    """ESCALATION_TRIGGER_WORDS, lower case (`none` in the environment turns the feature off)."""
    return list(current_app.config["ESCALATION_TRIGGER_WORDS"])


def check_linked(incident: Incident, link_action_id: int) -> bool:
    """After a link action (before its commit): escalate if one of its tickets names a trigger word."""
    words = trigger_words()
    if not words or not incident.is_open:
        return False
    # One scan for all the words (a link may touch 100,000 tickets), then which word it was.
    hit = db.session.execute(select(Ticket.external_id, Ticket.subject, Ticket.description).where(
        Ticket.link_action_id == link_action_id,
        or_(*[contains(column, word) for word in words for column in (Ticket.subject, Ticket.description)]))
        .limit(1)).first()
    if hit is None:
        return False
    text = f"{hit.subject}\n{hit.description}".lower()
    word = next((w for w in words if w in text), words[0])
    return escalate_for_trigger(incident, word=word, ticket=hit.external_id)


@tickets_linked.connect
def _on_tickets_linked(incident: Incident, *, link_action_id: int, **_) -> None:
    check_linked(incident, link_action_id)
