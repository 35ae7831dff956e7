"""Status page tables: components, incident impact, maintenance windows, the page version,
pending self-service subscriptions. Models never commit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..catalog import Service
from ..clock import utcnow
from ..extensions import Model, db
from ..types import UTCDateTime


class StatusComponent(Model):
    """A customer-facing part of the product as the status page shows it; a group holds others."""

    __tablename__ = "status_components"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_group: Mapped[bool] = mapped_column(Boolean, default=False)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("status_components.id", ondelete="SET NULL"),
                                                 nullable=True, index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"), nullable=True,
                                                   index=True)
    only_show_if_degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    service: Mapped[Service | None] = relationship()
    group: Mapped["StatusComponent | None"] = relationship(remote_side="StatusComponent.id")


class StatusIncident(Model):
    """How an incident reads on the page when staff override what its severity says."""

    __tablename__ = "status_incidents"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    impact: Mapped[str | None] = mapped_column(String(10), nullable=True)   # none | minor | major | critical
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatusIncidentComponent(Model):
    """A component's state during an incident, set by staff (otherwise derived from severity)."""

    __tablename__ = "status_incident_components"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("status_components.id", ondelete="CASCADE"),
                                              primary_key=True)
    status: Mapped[str] = mapped_column(String(24))


class StatusComponentHistory(Model):
    """From `since`, the incident held this component in `status` (until the next row for the same
    incident and component; `operational` ends it). Written when a published incident's effect on
    its components changes, so the 90-day bars show each day as it was, not as it ended."""

    __tablename__ = "status_component_history"
    __table_args__ = (Index("ix_status_component_history_incident", "incident_id", "component_id", "since"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    component_id: Mapped[int] = mapped_column(ForeignKey("status_components.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(24))
    since: Mapped[datetime] = mapped_column(UTCDateTime)


maintenance_components = Table(
    "maintenance_components",
    db.metadata,
    Column("maintenance_id", ForeignKey("maintenances.id", ondelete="CASCADE"), primary_key=True),
    Column("component_id", ForeignKey("status_components.id", ondelete="CASCADE"), primary_key=True),
)


class Maintenance(Model):
    """A planned window: scheduled, then in progress and completed on its own (or cancelled)."""

    __tablename__ = "maintenances"
    __table_args__ = (Index("ix_maintenances_status_for", "status", "scheduled_for"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text, default="")
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    scheduled_until: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")  # scheduled|in_progress|completed|cancelled
    notify_minutes_before: Mapped[int] = mapped_column(Integer, default=60)
    notice_queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    components: Mapped[list[StatusComponent]] = relationship(secondary=maintenance_components,
                                                              order_by=StatusComponent.position)


class MaintenanceUpdate(Model):
    """One step of a window (scheduled, in progress, completed): what the page lists under it."""

    __tablename__ = "maintenance_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    maintenance_id: Mapped[int] = mapped_column(ForeignKey("maintenances.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    body: Mapped[str] = mapped_column(Text, default="")   # empty: the page words it in the reader's language
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatusPageState(Model):
    """One row: bumped in the same transaction as every public change; snapshots are keyed by it."""

    __tablename__ = "status_page_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatusSubscription(Model):
    """A self-service signup from the page, pending until the link or code confirms it."""

    __tablename__ = "status_subscriptions"
    __table_args__ = (Index("ix_status_subscriptions_address_at", "address", "created_at"),
                      Index("ix_status_subscriptions_ip_at", "ip_hash", "created_at"),
                      Index("ix_status_subscriptions_channel_at", "channel", "created_at"))  # SMS a day

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))            # email | sms
    address: Mapped[str] = mapped_column(String(254))           # normalised email or E.164 number
    components: Mapped[list] = mapped_column(JSON, default=list)  # component ids; empty = all
    locale: Mapped[str] = mapped_column(String(35), default="en")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)  # email link
    handle: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)      # sms code page
    code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    ip_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), nullable=True)
