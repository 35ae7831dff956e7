"""Tickets from the helpdesk, how each was linked to an incident, and link rules. Models never commit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import Model, db
from ..types import UTCDateTime

HELPDESK_SOURCE = "zendesk"   # tickets of this source live in the connected helpdesk (README: Helpdesk)


# Made by migration 0022_keyset and not by these models (autogenerate leaves them be): the tag filter's
# index, a GIN index on string_to_array(btrim(tags), ' ') on PostgreSQL, an FTS5 table kept by triggers
# on SQLite (see queries.tag_index). A SQLite batch migration that copies `tickets` drops the triggers:
# make them again after it (the SQL is in 0022_keyset).
TAG_INDEX = "ix_tickets_tags_gin"
TAG_FTS_TABLE = "ticket_tags_fts"


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter: the tag index objects above are the migration's, not the models'."""
    if type_ == "table" and reflected and name and name.startswith(TAG_FTS_TABLE):
        return False
    return not (type_ == "index" and name == TAG_INDEX)


class Ticket(Model):
    """A helpdesk ticket. Tags and services are stored as ' a b ' so one LIKE finds a whole word."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_tickets_source_external_id"),
        # Keyset paging reads these in (created_at, id) order from a cursor's key (service.page_tickets).
        Index("ix_tickets_incident_created", "incident_id", "created_at", "id"),
        Index("ix_tickets_created", "created_at", "id"),
        # Reports count an incident's linked tickets per tag set from this index alone (linked tickets only).
        Index("ix_tickets_linked_tags", "incident_id", "tags", sqlite_where=text("incident_id IS NOT NULL"),
              postgresql_where=text("incident_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    requester_name: Mapped[str] = mapped_column(String(200), default="")
    requester_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    requester_phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"),
                                                    nullable=True, index=True)
    tags: Mapped[str] = mapped_column(String(2000), default=" ")
    services: Mapped[str] = mapped_column(String(1000), default=" ")
    priority: Mapped[str | None] = mapped_column(String(10), nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    solved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True)
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    link_method: Mapped[str | None] = mapped_column(String(10), nullable=True)
    # the link action names who linked the ticket (and its criteria); linked_at and link_method are kept on the
    # ticket for its lists and reports
    link_action_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_link_actions.id"), nullable=True)


class LinkAction(Model):
    """One link or unlink action on an incident: how, by whom, when, with what criteria, how many."""

    __tablename__ = "ticket_link_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(10))  # link | unlink
    method: Mapped[str] = mapped_column(String(10))  # manual | filter | rule | import | merge
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(254), default="system")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    criteria: Mapped[dict] = mapped_column(JSON, default=dict)
    count: Mapped[int] = mapped_column(Integer, default=0)


class LinkRule(Model):
    """While its incident is open, new tickets that match are linked on arrival."""

    __tablename__ = "link_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(String(200), default="")
    services: Mapped[list] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    linked: Mapped[int] = mapped_column(Integer, default=0)


class IncidentTicketStats(Model):
    """The incident page's flood chart and top tags, recomputed when the links change."""

    __tablename__ = "incident_ticket_stats"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict] = mapped_column(JSON, default=dict)


class FloodSignal(Model):
    """A possible outage the worker's detector sees now: a tag or service arriving far above baseline."""

    __tablename__ = "flood_signals"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    recent: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[int] = mapped_column(Integer)
    ratio: Mapped[float] = mapped_column(db.Float)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
