"""The outbox: one row per message to one recipient on one channel. Models never commit.

An outbox row (`Delivery`) is written in the same transaction as the change that calls for it;
the worker's dispatcher sends it. `dedupe_key` is unique, so the same message can never be
queued twice: a broadcast's rows are keyed by send and customer, so a customer gets one row per
send whatever the channel.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import Model, db
from ..types import UTCDateTime
from ..vocabulary import DeliveryStatus

STATUSES = tuple(DeliveryStatus)


class Delivery(Model):
    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),
                      Index("ix_deliveries_incident", "incident_id", "purpose"),
                      Index("ix_deliveries_send", "send_id", "status"),
                      # Reports: an incident's first broadcast message a provider took, without reading its rows.
                      Index("ix_deliveries_broadcast_sent", "incident_id", "sent_at",
                            sqlite_where=text("purpose = 'broadcast' AND sent_at IS NOT NULL"),
                            postgresql_where=text("purpose = 'broadcast' AND sent_at IS NOT NULL")),
                      # A provider's status callback finds its message; rows not yet sent have no id to index.
                      Index("ix_deliveries_provider_id", "provider_id", sqlite_where=text("provider_id IS NOT NULL"),
                            postgresql_where=text("provider_id IS NOT NULL")))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))         # page | page_update | broadcast | slack_* | reminder
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), nullable=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("escalation_steps.id", ondelete="SET NULL"), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), nullable=True,
                                                    index=True)
    # A broadcast's send and message (broadcast_sends.id, broadcast_messages.id), not checked by foreign key:
    # on PostgreSQL each key is a lookup per row, 0.7 s of a 100,000-recipient send for the two. Only
    # prepare_send writes them, from the send and messages it has just read or made; nothing deletes either.
    send_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
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
    provider_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # broadcast: the channel this message last failed on for good before moving to the customer's next one
    fell_back_from: Mapped[str | None] = mapped_column(String(10), nullable=True)
    sandbox: Mapped[bool] = mapped_column(db.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProviderBudget(Model):
    """A provider's request budget, shared by every worker (a token bucket in one row; see budget.py)."""

    __tablename__ = "provider_budgets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    refilled_at: Mapped[datetime] = mapped_column(UTCDateTime)
