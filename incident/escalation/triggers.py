"""Trigger words: a linked ticket that says "data loss" sends its incident straight to engineering."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..incidents.models import Incident
from ..incidents.service import make_private
from ..tickets.models import Ticket
from ..tickets.queries import contains_any
from ..tickets.signals import tickets_linked
from .service import escalate_for_trigger


def trigger_words() -> list[str]:
    """ESCALATION_TRIGGER_WORDS, lower case (`none` in the environment turns the feature off)."""
    return list(current_app.config["ESCALATION_TRIGGER_WORDS"])


def private_words() -> list[str]:
    """The trigger words that also make the incident private (PRIVATE_TRIGGER_WORDS that are trigger words)."""
    words = trigger_words()
    return [w for w in current_app.config["PRIVATE_TRIGGER_WORDS"] if w in words]


def _first_ticket_naming(incident_id: int, link_action_id: int, words: list[str]):
    """One scan for all the words (a link may touch 100,000 tickets): a ticket of the link naming one, or None.
    The link's tickets are on this incident: its index reads them, not the whole table."""
    return db.session.execute(select(Ticket.external_id, Ticket.subject, Ticket.description).where(
        Ticket.incident_id == incident_id, Ticket.link_action_id == link_action_id,
        contains_any((Ticket.subject, Ticket.description), words))
        .limit(1)).first()


def _word_in(hit, words: list[str]) -> str:
    text = f"{hit.subject}\n{hit.description}".lower()
    return next((w for w in words if w in text), words[0])


def check_linked(incident: Incident, link_action_id: int) -> bool:
    """After a link action (before its commit): escalate if one of its tickets names a trigger word, and
    make the incident private if one names a private trigger word ("security breach")."""
    words = trigger_words()
    if not words or not incident.is_open:
        return False
    hit = _first_ticket_naming(incident.id, link_action_id, words)
    if hit is None:     # the usual case: one scan, nothing found
        return False
    secret = private_words()
    if secret and not incident.private:
        breach = hit if _word_in(hit, words) in secret else _first_ticket_naming(incident.id, link_action_id, secret)
        if breach is not None:
            make_private(None, incident, reason=f"ticket {breach.external_id} mentions “{_word_in(breach, secret)}”")
    return escalate_for_trigger(incident, word=_word_in(hit, words), ticket=hit.external_id)


@tickets_linked.connect
def _on_tickets_linked(incident: Incident, *, link_action_id: int, **_) -> None:
    check_linked(incident, link_action_id)
