"""The words Tocsin's data is made of, each defined once.

Each is a `StrEnum`: a member *is* its string (`DeliveryStatus.QUEUED == "queued"`), so rows,
JSON and templates keep their plain values while the code names them once.
"""
from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"


class IncidentStatus(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class Mode(StrEnum):
    TIERED = "tiered"
    SWARM = "swarm"


class Channel(StrEnum):
    """A customer-facing channel (the outbox also has the sandbox stand-ins for each)."""

    SLACK = "slack"
    SMS = "sms"
    EMAIL = "email"
    TICKET = "ticket"      # a public reply on the customer's own helpdesk ticket for the incident


class PageChannel(StrEnum):
    """A channel that pages staff: customers are never called, so `voice` is here and not in `Channel`."""

    SLACK = "slack"
    SMS = "sms"
    EMAIL = "email"
    VOICE = "voice"        # a phone call (Twilio): press 1 to acknowledge


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class BroadcastStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class SendStatus(StrEnum):
    """One send of a broadcast (the first, or a repeat): prepared into deliveries when it is due."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ReviewStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"


class ActionItemState(StrEnum):
    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"
class KnownIssueState(StrEnum):
    """A known-issue entry: `current` while its incident is open, `known` once it is resolved."""

    CURRENT = "current"
    KNOWN = "known"


class AuditKind(StrEnum):
    """What kind of configuration an audit entry is about."""

    ESCALATION_POLICY = "escalation_policy"
    ROTATION = "rotation"
    ROTATION_OVERRIDE = "rotation_override"
    MESSAGE_TEMPLATE = "message_template"
    STATUS_COMPONENT = "status_component"
    STAFF = "staff"
    TOKEN = "token"
    WEBHOOK = "webhook"
    SETTING = "setting"
