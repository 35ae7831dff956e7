"""Request schemas for escalation, rotations and the simulator."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..api import Strict
from ..validation import Email, Instant, Slug


class RotationIn(Strict):
    users: list[Email] = Field(min_length=1, max_length=100)
    shift_hours: float = Field(ge=1 / 60, le=24 * 90)   # a minute at least: shorter reads as no shift at all
    starts_at: Instant
    timezone: str | None = Field(None, max_length=64)  # IANA name: shifts keep to its wall clock


class OverrideIn(Strict):
    user: Email
    starts_at: Instant
    ends_at: Instant

    @model_validator(mode="after")
    def _order(self):
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class EscalateIn(Strict):
    level: str | None = Field(None, min_length=1, max_length=100)
    reason: str = Field("", max_length=1000)


class SimulateIn(Strict):
    severity: Literal["SEV1", "SEV2", "SEV3", "SEV4"] = "SEV2"
    services: list[Slug] = Field(default_factory=list, max_length=50)
    at: Instant | None = None
    mode: Literal["tiered", "swarm"] = "tiered"
    policy: str | None = None
