"""What Tocsin keeps of the helpdesk: each incident's parent ticket, each ticket's sync state, the
export cursor. Models never commit.

The calls themselves are outbox rows (`Delivery`, purpose `helpdesk`): one row per `update_many`
job of at most 100 tickets, or per parent ticket to create, so they are claimed, retried and
shown in the sandbox outbox like every other message.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from ..types import UTCDateTime


class HelpdeskProblem(Model):
    """The helpdesk's parent ticket for an incident (a Zendesk *problem*), created once."""

    __tablename__ = "helpdesk_problems"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    ticket_id: Mapped[str | None] = mapped_column(String(40), nullable=True)   # None until the helpdesk made it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HelpdeskSync(Model):
    """One ticket's part in one helpdesk job: what Tocsin asked (link, unlink, solve) and how it went."""

    __tablename__ = "helpdesk_syncs"
    __table_args__ = (Index("ix_helpdesk_syncs_incident", "incident_id", "state"),
                      Index("ix_helpdesk_syncs_delivery", "delivery_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(10))                # link | unlink | solve
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"), nullable=True)
    state: Mapped[str] = mapped_column(String(10), default="pending")   # pending | synced | failed
    reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HelpdeskCursor(Model):
    """Where the incremental export stopped: the next run starts there."""

    __tablename__ = "helpdesk_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text, nullable=True)
    polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    tickets: Mapped[int] = mapped_column(Integer, default=0)        # seen through the export, in all
