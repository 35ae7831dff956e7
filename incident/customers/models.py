"""Customers: who they are, how they want to hear from us, what they subscribe to. Models never commit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..catalog import Service
from ..clock import utcnow
from ..extensions import Model, db
from ..types import UTCDateTime

CHANNELS = ("slack", "sms", "email", "ticket")   # ticket: a reply on their own helpdesk ticket

# The services a customer subscribes to: a broadcast to "subscribers of the affected services" reaches them.
customer_services = Table(
    "customer_services",
    db.metadata,
    Column("customer_id", ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Customer(Model):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254), unique=True, nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True, nullable=True)
    locale: Mapped[str] = mapped_column(String(35), default="en")   # any BCP 47 tag, canonical
    segment: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    slack_channel: Mapped[str | None] = mapped_column(String(40), nullable=True)
    channels: Mapped[list] = mapped_column(JSON, default=list)      # preference, first = most wanted
    opted_out: Mapped[list] = mapped_column(JSON, default=list)     # channels they said STOP on
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    services: Mapped[list[Service]] = relationship(secondary=customer_services, order_by=Service.name)

    def address(self, channel: str) -> str | None:
        return {"email": self.email, "sms": self.phone, "slack": self.slack_channel}.get(channel)


class OptOutChange(Model):
    """One opt-out taken or lifted: which channel, how (an SMS keyword, an unsubscribe link, staff, a
    status-page sign-up) and by whom — the customer's opt-out history, kept as the law asks it to be."""

    __tablename__ = "customer_opt_out_changes"
    __table_args__ = (Index("ix_customer_opt_out_changes_customer", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    opted_out: Mapped[bool] = mapped_column(Boolean)          # True: taken off the channel; False: back on
    how: Mapped[str] = mapped_column(String(20))   # sms_keyword|unsubscribe_link|subscription_page|staff|status_signup
    by: Mapped[str | None] = mapped_column(String(254), nullable=True)   # the staff member, for staff changes
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
