"""The service catalogue: what customers use and can break (`login`, `api`, `billing`).

The bottom of the domain: incidents, tickets, customers and the status page all name services.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from .clock import utcnow
from .extensions import Model, db
from .types import UTCDateTime


class Service(Model):
    """Something customers use that can break: `login`, `api`, `billing`."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def ensure_services(names: list[str]) -> list[Service]:
    """The Service rows for these names, creating the missing ones (flush, no commit)."""
    names = sorted(set(names))
    if not names:
        return []
    existing = {s.name: s for s in db.session.scalars(select(Service).where(Service.name.in_(names)))}
    for name in names:
        if name not in existing:
            existing[name] = Service(name=name, created_at=utcnow())
            db.session.add(existing[name])
    db.session.flush()
    return [existing[name] for name in names]
