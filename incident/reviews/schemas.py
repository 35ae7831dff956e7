"""Request schemas for reviews and action items, and how an action item reads in the API."""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from ..api import Strict
from ..clock import isoformat
from ..validation import Email, Key, schema_rules
from .models import ActionItem
from .policy import SECTIONS, STATES, STATUSES, is_overdue

MAX_SECTION = 20_000          # characters in one section; five of them stay under the body limit
MAX_URL = 2_000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_URL_REFUSED = re.compile(r"[\s<>\"\x00-\x1f\x7f]")

ReviewStatusIn = Literal[STATUSES]  # type: ignore[valid-type]
ItemState = Literal[STATES]  # type: ignore[valid-type]


def check_due_on(value):
    """A calendar day written as 2026-12-01, between 1970 and 2999."""
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and _DATE.match(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("not a real day of the calendar") from None
    else:
        raise ValueError("a day such as 2026-12-01")
    if not 1970 <= day.year <= 2999:
        raise ValueError("must be between 1970 and 2999")
    return day


def check_tracker_url(value):
    """An http:// or https:// address with a host, no spaces, quotes or angle brackets."""
    if not isinstance(value, str):
        raise ValueError("an http:// or https:// address")
    value = value.strip()
    if len(value) > MAX_URL:
        raise ValueError(f"at most {MAX_URL} characters")
    if _URL_REFUSED.search(value):
        raise ValueError("no spaces, quotes or angle brackets")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise ValueError("not a readable address") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError("an http:// or https:// address with a host")
    return value


DueOn = Annotated[date, BeforeValidator(check_due_on),
                  WithJsonSchema({"type": "string", "format": "date", "description": "a day, e.g. 2026-12-01 (UTC)"})]
TrackerUrl = Annotated[str, BeforeValidator(check_tracker_url),
                       WithJsonSchema({"type": "string", "pattern": r"^https?://[^\s<>\"]+$", "maxLength": MAX_URL,
                                       "description": "the tracker's page (http or https)"})]
SectionText = Annotated[str, Field(max_length=MAX_SECTION)]


class SectionsIn(Strict):
    model_config = ConfigDict(json_schema_extra=schema_rules(not_null=tuple(SECTIONS), minProperties=1))

    summary: SectionText | None = None
    impact: SectionText | None = None
    root_cause: SectionText | None = None
    went_well: SectionText | None = None
    to_improve: SectionText | None = None

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError(f"give at least one of {', '.join(SECTIONS)}")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; send \"\" to empty it")
        return self


class ReviewPatch(Strict):
    model_config = ConfigDict(json_schema_extra=schema_rules(
        not_null=("status", "sections", "version"),
        anyOf=[{"required": ["status"]}, {"required": ["sections"]}]))

    status: ReviewStatusIn | None = None
    sections: SectionsIn | None = None
    version: Key | None = Field(None, description="the version you read; 409 if the review changed since")

    @model_validator(mode="after")
    def _something(self):
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if self.status is None and self.sections is None:
            raise ValueError("nothing to change: give status, sections, or both")
        return self


class ActionItemIn(Strict):
    title: str = Field(min_length=1, max_length=300)
    owner: Email
    due_on: DueOn
    url: TrackerUrl | None = None


class ActionItemPatch(Strict):
    model_config = ConfigDict(json_schema_extra=schema_rules(
        not_null=("title", "owner", "due_on", "state"), minProperties=1))

    title: str | None = Field(None, min_length=1, max_length=300)
    owner: Email | None = None
    due_on: DueOn | None = None
    state: ItemState | None = None
    url: TrackerUrl | None = Field(None, description="null removes the link")

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError("nothing to change: give title, owner, due_on, state or url")
        for name in self.model_fields_set - {"url"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


def item_to_dict(item: ActionItem, today: date) -> dict:
    return {"id": item.id, "incident_id": item.incident_id, "reference": f"INC-{item.incident_id}",
            "title": item.title, "owner": item.owner.email, "due_on": item.due_on.isoformat(), "state": item.state,
            "url": item.url, "overdue": is_overdue(item.state, item.due_on, today),
            "created_at": isoformat(item.created_at),
            "created_by": item.created_by.email if item.created_by else None,
            "updated_at": isoformat(item.updated_at), "closed_at": isoformat(item.closed_at)}
