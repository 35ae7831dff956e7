"""The incident page's sections, each built by the module that owns it (one direction: this
module imports the section builders; they import neither it nor the page's route)."""
from __future__ import annotations

from ..incidents.models import Incident
from .broadcasts import broadcasts_context
from .escalation import escalation_context
from .helpdesk import helpdesk_context
from .known_issues import known_issue_context
from .reviews import review_context
from .tickets import incident_tickets_context


def incident_sections(incident: Incident) -> dict:
    """What the flood, escalation, broadcast, helpdesk and known-issue sections of the page show."""
    return {**incident_tickets_context(incident), **escalation_context(incident), **broadcasts_context(incident),
            **helpdesk_context(incident), **review_context(incident), **known_issue_context(incident)}
