"""One row per configuration change. Models never commit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import Model
from ..types import UTCDateTime


class AuditEntry(Model):
    """Who changed what, when: the object as it read before and after (None when created or deleted),
    and the fields that differ."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_at", "at", "id"),
                      Index("ix_audit_entries_kind_at", "kind", "at"),
                      Index("ix_audit_entries_actor_at", "actor", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(254))           # staff email, "cli" or "system"
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    kind: Mapped[str] = mapped_column(String(40))             # vocabulary.AuditKind
    action: Mapped[str] = mapped_column(String(40))           # created | updated | deleted | revoked | …
    target: Mapped[str] = mapped_column(String(300))          # the object's name or id
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    changes: Mapped[dict] = mapped_column(JSON, default=dict)  # {field: [before, after]}
