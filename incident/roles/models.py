"""Role terms (every hand-over kept) and ticked checklist items. Models never commit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..clock import utcnow
from ..extensions import Model
from ..types import UTCDateTime


class RoleAssignment(Model):
    """One term of one person in one crisis role: from `assigned_at` until `relieved_at`."""

    __tablename__ = "role_assignments"
    __table_args__ = (
        # At most one current holder of a single-holder role, and no one twice in a role:
        # enforced by the database, so two concurrent hand-overs cannot both win.
        Index("uq_role_assignments_current_single", "incident_id", "role", unique=True,
              sqlite_where=text("relieved_at IS NULL AND role <> 'subject_matter_expert'"),
              postgresql_where=text("relieved_at IS NULL AND role <> 'subject_matter_expert'")),
        Index("uq_role_assignments_current_holder", "incident_id", "role", "user_id", unique=True,
              sqlite_where=text("relieved_at IS NULL"),
              postgresql_where=text("relieved_at IS NULL")),
        Index("ix_role_assignments_incident", "incident_id", "assigned_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    relieved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    relieved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    assigned_by: Mapped[User | None] = relationship(foreign_keys=[assigned_by_id])
    relieved_by: Mapped[User | None] = relationship(foreign_keys=[relieved_by_id])


class ChecklistTick(Model):
    """A runbook item ticked on an incident. Unticking deletes the row; the timeline keeps both."""

    __tablename__ = "checklist_ticks"
    __table_args__ = (UniqueConstraint("incident_id", "runbook", "item_key",
                                       name="uq_checklist_ticks_item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    runbook: Mapped[str] = mapped_column(String(100))
    item_key: Mapped[str] = mapped_column(String(16))
    item_text: Mapped[str] = mapped_column(String(300))
    ticked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    ticked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticked_by: Mapped[User | None] = relationship()
