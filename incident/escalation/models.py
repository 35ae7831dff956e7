"""Escalation policies, rotations, and each incident's escalation with its clocks. Models never commit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import Model, db
from ..types import UTCDateTime


class EscalationPolicy(Model):
    """Ordered levels (targets, ack timeout, channels); which severities or services it covers."""

    __tablename__ = "escalation_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    definition: Mapped[dict] = mapped_column(JSON)           # {"levels": [...], "repeat": n}
    severities: Mapped[list] = mapped_column(JSON, default=list)
    services: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(254), default="system")


class Rotation(Model):
    __tablename__ = "rotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    users: Mapped[list] = mapped_column(JSON)
    shift_hours: Mapped[float] = mapped_column(db.Float)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: shifts in real time
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RotationOverride(Model):
    __tablename__ = "rotation_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rotation_id: Mapped[int] = mapped_column(ForeignKey("rotations.id", ondelete="CASCADE"), index=True)
    user: Mapped[str] = mapped_column(String(254))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(254), default="system")


class IncidentEscalation(Model):
    """An incident's escalation: the policy frozen at its start, where it stands, its next deadline.

    `version` is a fencing token: every transition is an UPDATE … WHERE version = :seen, so
    two workers (or a worker and an acknowledgement) can never both move it.
    """

    __tablename__ = "incident_escalations"
    __table_args__ = (Index("ix_incident_escalations_due", "state", "next_deadline_at"),)

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    policy_name: Mapped[str] = mapped_column(String(100))
    snapshot: Mapped[dict] = mapped_column(JSON)             # {"policy": {...}, "rotations": {...}}
    mode: Mapped[str] = mapped_column(String(10), default="tiered")
    state: Mapped[str] = mapped_column(String(15), default="paging")  # paging | acknowledged | exhausted
    level_index: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)

    __mapper_args__ = {"version_id_col": version}


class EscalationStep(Model):
    """One level paged (or skipped) in one round: its SLA clock, and whether it breached."""

    __tablename__ = "escalation_steps"
    __table_args__ = (Index("ix_escalation_steps_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    level_index: Mapped[int] = mapped_column(Integer)
    level_name: Mapped[str] = mapped_column(String(100))
    round: Mapped[int] = mapped_column(Integer, default=0)
    paged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    skipped: Mapped[str | None] = mapped_column(String(100), nullable=True)
    recipients: Mapped[list] = mapped_column(JSON, default=list)
    channels: Mapped[list] = mapped_column(JSON, default=list)


class Acknowledgement(Model):
    """Every acknowledgement received, the first and the duplicates, from any channel."""

    __tablename__ = "acknowledgements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    who: Mapped[str] = mapped_column(String(254))            # email, or the refused Slack id / masked phone
    via: Mapped[str] = mapped_column(String(10))             # web | api | slack | sms | voice | sandbox
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(12))         # first | duplicate | refused
    detail: Mapped[str] = mapped_column(String(200), default="")


class SlackEvent(Model):
    """Slack deliveries seen (by trigger id or retry key), so a retried request changes nothing twice."""

    __tablename__ = "slack_events"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled: Mapped[bool] = mapped_column(Boolean, default=True)
