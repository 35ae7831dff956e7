"""Request schemas for broadcasts."""
from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from ..api import Strict
from ..clock import utcnow
from ..validation import Instant, schema_rules

Channel = Literal["slack", "sms", "email", "ticket"]


class AudienceIn(Strict):
    """Who hears it: the union of the sources asked for."""

    model_config = ConfigDict(json_schema_extra=schema_rules(anyOf=[
        {"required": ["linked_requesters"], "properties": {"linked_requesters": {"const": True}}},
        {"required": ["service_subscribers"], "properties": {"service_subscribers": {"const": True}}},
        {"required": ["segments"], "properties": {"segments": {"minItems": 1}}}]))

    linked_requesters: bool = False
    service_subscribers: bool = False
    segments: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("segments")
    @classmethod
    def _segments(cls, value: list[str]) -> list[str]:
        cleaned = sorted({s.strip() for s in value if s.strip()})
        if any(len(s) > 40 for s in cleaned):
            raise ValueError("a segment name has at most 40 characters")
        return cleaned

    @model_validator(mode="after")
    def _something(self):
        if not (self.linked_requesters or self.service_subscribers or self.segments):
            raise ValueError("say who hears it: linked_requesters, service_subscribers or segments")
        return self


def _not_too_far(value):
    if value is not None and value > utcnow() + MAX_AHEAD:
        raise ValueError("a send time more than a year ahead is surely a typo")
    return value


MAX_AHEAD = timedelta(days=366)


class BroadcastIn(Strict):
    kind: Literal["apology", "status", "resolution"]
    channels: list[Channel] = Field(min_length=1, max_length=4, json_schema_extra={"uniqueItems": True})
    audience: AudienceIn = Field(default_factory=lambda: AudienceIn(linked_requesters=True))
    message: str = Field("", max_length=2000)
    send_at: Instant | None = None
    repeat_every_minutes: int | None = Field(None, ge=5, le=24 * 60)
    next_update_minutes: int | None = Field(None, ge=5, le=7 * 24 * 60)
    important: bool = False
    include_workaround: bool = Field(False, description="add the incident's known-issue workaround, when it has one")

    @field_validator("channels")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("name each channel once")
        return value

    _send_at = field_validator("send_at")(_not_too_far)

    @model_validator(mode="after")
    def _cadence(self):
        if self.repeat_every_minutes is not None and self.kind != "status":
            raise ValueError("only status updates repeat")
        return self


class BroadcastEdit(Strict):
    """What can still change before a send goes: everything but the kind."""

    model_config = ConfigDict(json_schema_extra=schema_rules(minProperties=1))

    channels: list[Channel] | None = Field(None, min_length=1, max_length=4, json_schema_extra={"uniqueItems": True})
    audience: AudienceIn | None = None
    message: str | None = Field(None, max_length=2000)
    send_at: Instant | None = None
    repeat_every_minutes: int | None = Field(None, ge=5, le=24 * 60)
    next_update_minutes: int | None = Field(None, ge=5, le=7 * 24 * 60)
    important: bool | None = None
    include_workaround: bool | None = None

    _send_at = field_validator("send_at")(_not_too_far)

    @field_validator("channels")
    @classmethod
    def _distinct(cls, value):
        return BroadcastIn._distinct(value) if value is not None else value
