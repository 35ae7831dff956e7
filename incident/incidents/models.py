"""Incidents, their status updates, the services they affect and the timeline. Models never commit."""
from __future__ import annotations

from datetime import datetime

from flask import g, has_request_context
from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..catalog import Service
from ..clock import utcnow
from ..errors import IncidentNotFound
from ..extensions import Model, db
from ..types import UTCDateTime

MAX_ID = 2**31 - 1   # ids beyond what the databases' integer keys hold are simply not found

incident_services = Table(
    "incident_services",
    db.metadata,
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
)


class Incident(Model):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_declared_at", "declared_at"),)   # reports: a period's incidents

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(4), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True, default="investigating")
    summary: Mapped[str] = mapped_column(Text, default="")
    mode: Mapped[str] = mapped_column(String(10), default="tiered")
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    escalation_policy: Mapped[str] = mapped_column(String(100), default="default")
    solve_tickets_on_resolve: Mapped[bool] = mapped_column(Boolean, default=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), nullable=True)
    tickets_version: Mapped[int] = mapped_column(Integer, default=0)
    slack_channel_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Private (a security breach): only its members, and admins, see it; never on the status page.
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    declared_by: Mapped[User | None] = relationship()
    services: Mapped[list[Service]] = relationship(secondary=incident_services, order_by=Service.name)

    @property
    def reference(self) -> str:
        return f"INC-{self.id}"

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"

    @classmethod
    def get_or_raise(cls, incident_id) -> "Incident":
        """The incident, or 404 — also when it is private and the staff member behind this request
        may not see it (visibility.py): to them it does not exist."""
        try:
            key = int(incident_id)
        except (TypeError, ValueError):
            raise IncidentNotFound(incident_id) from None
        if not 0 < key <= MAX_ID:
            raise IncidentNotFound(incident_id)
        incident = db.session.get(cls, key)
        if incident is None:
            raise IncidentNotFound(incident_id)
        if incident.private and not may_see(incident):
            raise IncidentNotFound(incident_id)
        return incident


class IncidentMember(Model):
    """Someone who may see the incident when it is private: its declarer, its crisis-role holders,
    the responders it paged, and whoever a member lead added. Kept for every incident, so making
    one private later keeps the people already working on it."""

    __tablename__ = "incident_members"
    __table_args__ = (Index("ix_incident_members_user", "user_id", "incident_id"),)

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    how: Mapped[str] = mapped_column(String(10))     # declared | role | paged | added
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class IncidentUpdate(Model):
    """A status update: what the commander tells the room and, when public, the status page."""

    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_subscribers: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)

    author: Mapped[User | None] = relationship()


class TimelineEvent(Model):
    """One thing that happened to an incident; written in the same transaction as the change."""

    __tablename__ = "timeline_events"
    __table_args__ = (Index("ix_timeline_events_incident_at", "incident_id", "at", "id"),
                      Index("ix_timeline_events_incident_kind", "incident_id", "kind"))   # reports: reopens

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(254), default="system")
    data: Mapped[dict] = mapped_column(JSON, default=dict)


# Who may see a private incident (visibility.py has the rest: list filters, membership) ----------

def viewer() -> User | None:
    """The staff member behind this request, or None (no request, or nobody logged in)."""
    return g.get("user") if has_request_context() else None


def sees_everything(user: User | None) -> bool:
    """Work with nobody behind it (the worker, provider webhooks) and admins see every incident."""
    return user is None or user.can("admin")


def may_see(incident: Incident, user: User | None = None) -> bool:
    """Whether `user` (default: the one behind this request) may see the incident."""
    user = user if user is not None else viewer()
    if not incident.private or sees_everything(user):
        return True
    assert user is not None
    return db.session.get(IncidentMember, (incident.id, user.id)) is not None

