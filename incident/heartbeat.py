"""Worker heartbeats: the last tick of each worker process, for /healthz and the watchdog."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .clock import utcnow
from .extensions import Model
from .types import UTCDateTime


class WorkerHeartbeat(Model):
    """The last tick of each worker process, for /healthz and the watchdog."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_tick_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ticks: Mapped[int] = mapped_column(Integer, default=0)
