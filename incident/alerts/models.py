"""Alert sources (one bearer token each, only its hash kept) and the alerts they sent. Models never commit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import Model
from ..types import UTCDateTime


class AlertSource(Model):
    """An Alertmanager or Grafana allowed to send alerts: a name and the hash of its bearer token."""

    __tablename__ = "alert_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Alert(Model):
    """One alert, by its fingerprint: the same alert sent again (a repeat, the other Alertmanager of a
    pair) updates this row. Firing with no open incident to attach to, it is in the possible-outage box."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_status_service", "status", "service"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(100))          # the alert source's name
    kind: Mapped[str] = mapped_column(String(20))             # alertmanager | grafana
    status: Mapped[str] = mapped_column(String(10))           # firing | resolved
    name: Mapped[str] = mapped_column(String(200), default="")  # the alertname label
    service: Mapped[str | None] = mapped_column(String(63), nullable=True)
    labels: Mapped[dict] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict] = mapped_column(JSON, default=dict)
    links: Mapped[dict] = mapped_column(JSON, default=dict)   # generator, silence, dashboard, panel URLs
    group_key: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    received: Mapped[int] = mapped_column(Integer, default=1)   # notifications that carried it
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True,
                                                    index=True)
