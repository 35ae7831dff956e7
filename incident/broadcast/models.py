"""Broadcasts: what a lead composed, each of its sends, the messages rendered for them, and the
message templates. Models never commit; a send's outbox rows are `outbox.models.Delivery`."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import Model
from ..types import UTCDateTime

KINDS = ("apology", "status", "resolution")


class Broadcast(Model):
    """What the lead composed: a kind, channels, an audience, when (once or on a cadence)."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    channels: Mapped[list] = mapped_column(JSON)
    audience: Mapped[dict] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text, default="")           # the lead's own words, optional
    important: Mapped[bool] = mapped_column(Boolean, default=False)
    include_workaround: Mapped[bool] = mapped_column(Boolean, default=False)   # the known issue's, when it has one
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)             # the first send
    repeat_every_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    next_update_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the promise
    status: Mapped[str] = mapped_column(String(12), default="scheduled")  # scheduled | sending | done | cancelled
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BroadcastSend(Model):
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


class BroadcastMessage(Model):
    """A send's message rendered once per channel and locale; rows point here instead of copying it."""

    __tablename__ = "broadcast_messages"
    __table_args__ = (UniqueConstraint("send_id", "channel", "locale"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("broadcast_sends.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    locale: Mapped[str] = mapped_column(String(35))
    subject: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text, nullable=True)
    blocks: Mapped[list | None] = mapped_column(JSON, nullable=True)


class MessageTemplate(Model):
    """A staff edit of a shipped template (kind × channel × locale); absent means the shipped one."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("kind", "channel", "locale"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))
    locale: Mapped[str] = mapped_column(String(35))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
