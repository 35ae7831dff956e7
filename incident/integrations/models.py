"""What the webhooks remember. Models never commit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import Model
from ..types import UTCDateTime


class TwilioEvent(Model):
    """A Twilio request already handled, so a replay of it changes nothing: Twilio's signature has no
    timestamp, and a captured request stays valid for ever. created_at: for pruning, if ever wanted."""

    __tablename__ = "twilio_events"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)   # sms:<MessageSid>, status:<sid>:<status>
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
