"""The outbox and the broadcasts that fill it. Models never commit.

An outbox row (`Delivery`) is one message to one recipient on one channel, written in the
same transaction as the change that calls for it; the worker's dispatcher sends it.
`dedupe_key` is unique, so the same message can never be queued twice: a broadcast's rows
are keyed by send and customer, so a customer gets one row per send whatever the channel.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db
from ..types import UTCDateTime

STATUSES = ("queued", "sending", "sent", "delivered", "failed", "skipped", "cancelled")
KINDS = ("apology", "status", "resolution")


class Broadcast(db.Model):
    """What the lead composed: a kind, channels, an audience, when (once or on a cadence)."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    channels: Mapped[list] = mapped_column(JSON)
    audience: Mapped[dict] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text, default="")           # the lead's own words, optional
    important: Mapped[bool] = mapped_column(Boolean, default=False)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)             # the first send
    repeat_every_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    next_update_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the promise
    status: Mapped[str] = mapped_column(String(12), default="scheduled")  # scheduled | sending | done | cancelled
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BroadcastSend(db.Model):
    """One going-out of a broadcast (a recurring one has many); its rows are made when it is due."""

    __tablename__ = "broadcast_sends"
    __table_args__ = (UniqueConstraint("broadcast_id", "number"), Index("ix_broadcast_sends_due", "status", "due_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")  # scheduled | queued | cancelled
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    prepared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class BroadcastMessage(db.Model):
    """A send's message rendered once per channel and locale; rows point here instead of copying it."""

    __tablename__ = "broadcast_messages"
    __table_args__ = (UniqueConstraint("send_id", "channel", "locale"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("broadcast_sends.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    locale: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text, nullable=True)
    blocks: Mapped[list | None] = mapped_column(JSON, nullable=True)


class MessageTemplate(db.Model):
    """A staff edit of a shipped template (kind × channel × locale); absent means the shipped one."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("kind", "channel", "locale"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))
    locale: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(db.Model):
    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),
                      Index("ix_deliveries_incident", "incident_id", "purpose"),
                      Index("ix_deliveries_send", "send_id", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))         # page | page_update | broadcast | slack_* | reminder
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), nullable=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("escalation_steps.id", ondelete="SET NULL"), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), nullable=True,
                                                    index=True)
    send_id: Mapped[int | None] = mapped_column(ForeignKey("broadcast_sends.id", ondelete="CASCADE"), nullable=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("broadcast_messages.id", ondelete="CASCADE"),
                                                   nullable=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(254))      # Slack id, E.164 number or email
    subject: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text, nullable=True)
    blocks: Mapped[list | None] = mapped_column(JSON, nullable=True)
    headers: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    ref: Mapped[str | None] = mapped_column(String(200), nullable=True)  # page_update: the message to update
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    sandbox: Mapped[bool] = mapped_column(db.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
