"""Inbound webhooks: Slack (button clicks, slash commands) and Twilio (SMS, delivery receipts).

Each module verifies its provider's signature, parses the request, calls one use case and
shapes the reply. The use case both share, acknowledging for a sender who may or may not be
staff, lives here, with the one parser both need.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..auth.models import User
from ..errors import IncidentNotFound, NotAllowed
from ..escalation.service import acknowledge, refuse_acknowledgement

# 42, #42, INC-42, inc 42, INC42 — how people write an incident number on a phone keyboard.
_INCIDENT_REF = re.compile(r"^(?:inc[-\s]?)?#?(\d{1,9})$", re.IGNORECASE)


def parse_incident_ref(text: str) -> int | None:
    """The incident number in '42', 'INC-42', 'inc-42' or '#42'; None for anything else."""
    match = _INCIDENT_REF.match(text.strip())
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class AckResult:
    """How an acknowledgement from outside the web app went."""

    outcome: str            # first | duplicate | unknown_sender | not_allowed | not_found
    reference: str          # INC-42
    role: str | None = None  # the sender's permission role, when it was not enough


def acknowledge_as(user: User | None, incident_id: int, *, who: str, via: str) -> AckResult:
    """Acknowledge for a sender matched to staff (or not); refusals are recorded, never raised."""
    reference = f"INC-{incident_id}"
    if user is None:
        refuse_acknowledgement(incident_id, who=who, via=via, reason=f"sender not on staff ({via})")
        return AckResult("unknown_sender", reference)
    try:
        return AckResult(acknowledge(user, incident_id, via=via), reference)
    except NotAllowed:  # acknowledge() has recorded the refusal
        return AckResult("not_allowed", reference, user.role)
    except IncidentNotFound:
        return AckResult("not_found", reference)
