"""An incident's known-issue record and the tickets that looked like it on arrival. Models never commit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..clock import utcnow
from ..extensions import Model
from ..types import UTCDateTime


class KnownIssue(Model):
    """One per incident. `workaround` is public (the status page while the incident is open, and the
    broadcasts that ask for it); everything else is for staff only. Tags and services are stored as
    ' a b ', like a ticket's, so one LIKE finds a whole word."""

    __tablename__ = "known_issues"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    workaround: Mapped[str] = mapped_column(Text, default="")
    symptoms: Mapped[str] = mapped_column(Text, default="")
    cause: Mapped[str] = mapped_column(Text, default="")
    fix: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[str] = mapped_column(String(2000), default=" ")
    services: Mapped[str] = mapped_column(String(1000), default=" ")
    match_phrases: Mapped[list] = mapped_column(JSON, default=list)
    flag_tickets: Mapped[bool] = mapped_column(Boolean, default=True)
    search_text: Mapped[str] = mapped_column(Text, default="")   # every field in lower case, for ?q=
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)

    updated_by: Mapped[User | None] = relationship()


class KnownIssueMatch(Model):
    """A new ticket that looked like a known issue when it arrived: one row per ticket (the best entry)."""

    __tablename__ = "known_issue_matches"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("known_issues.incident_id", ondelete="CASCADE"), index=True)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
