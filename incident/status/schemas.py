"""Request schemas for the staff status-page API, and how its objects read there."""
from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from ..api import Strict
from ..clock import isoformat
from ..validation import Instant, Key, Slug, schema_rules
from .models import Maintenance, StatusComponent
from .policy import IMPACT_STATUSES, IMPACTS

ComponentState = Literal[("operational", *IMPACT_STATUSES)]  # type: ignore[valid-type]


class ComponentIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=2_000)
    group: str | None = Field(None, min_length=1, max_length=100)
    position: int | None = Field(None, ge=0, le=100_000)
    service: Slug | None = None
    only_show_if_degraded: bool = False


class ComponentEdit(Strict):
    model_config = ConfigDict(json_schema_extra=schema_rules(
        not_null=("name", "description", "position", "only_show_if_degraded"), minProperties=1))

    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2_000)
    group: str | None = Field(None, max_length=100)
    position: int | None = Field(None, ge=0, le=100_000)
    service: Slug | None = None
    only_show_if_degraded: bool | None = None

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for name in ("name", "position", "only_show_if_degraded", "description"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ImpactIn(Strict):
    model_config = ConfigDict(json_schema_extra=schema_rules(minProperties=1))

    impact: Literal[IMPACTS] | None = None  # type: ignore[valid-type]
    components: dict[Key, ComponentState | None] = Field(default_factory=dict, max_length=500, json_schema_extra={
        "propertyNames": {"pattern": "^[1-9][0-9]{0,8}$"}})

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError("give impact, components, or both")
        return self


class MaintenanceIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    message: str = Field("", max_length=5_000)
    scheduled_for: Instant
    scheduled_until: Instant
    components: list[Key] = Field(min_length=1, max_length=500)
    notify_minutes_before: int = Field(60, ge=0, le=7 * 24 * 60)


def component_to_dict(c: StatusComponent, status: str | None = None) -> dict:
    return {"id": c.id, "name": c.name, "description": c.description, "position": c.position,
            "is_group": c.is_group, "group_id": c.group_id, "group": c.group.name if c.group else None,
            "service": c.service.name if c.service else None, "only_show_if_degraded": c.only_show_if_degraded,
            "status": status, "created_at": isoformat(c.created_at), "updated_at": isoformat(c.updated_at)}


def maintenance_to_dict(m: Maintenance) -> dict:
    return {"id": m.id, "name": m.name, "message": m.message, "status": m.status,
            "scheduled_for": isoformat(m.scheduled_for), "scheduled_until": isoformat(m.scheduled_until),
            "components": [c.id for c in m.components], "notify_minutes_before": m.notify_minutes_before,
            "notice_queued_at": isoformat(m.notice_queued_at), "started_at": isoformat(m.started_at),
            "completed_at": isoformat(m.completed_at), "created_at": isoformat(m.created_at)}


