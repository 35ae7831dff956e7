"""Request schemas for tickets, links and rules, and how a ticket reads in the API."""
from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from ..clock import isoformat
from ..validation import Email, Instant, Phone, Slug, schema_rules
from .models import Ticket
from .policy import TAG_RE, TicketFilter, decode_words, normalize_tag

MAX_BATCH = 10_000
Tag = Annotated[str, AfterValidator(normalize_tag), WithJsonSchema({"type": "string", "pattern": TAG_RE.pattern})]
ExternalId = Annotated[str, Field(min_length=1, max_length=100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Requester(Strict):
    name: str = Field("", max_length=200)
    email: Email | None = None
    phone: Phone | None = None


class TicketIn(Strict):
    external_id: ExternalId
    source: Slug = "api"
    subject: str = Field("", max_length=500)
    description: str = Field("", max_length=100_000)
    requester: Requester = Field(default_factory=Requester)
    tags: list[Tag] = Field(default_factory=list, max_length=100)
    services: list[Slug] = Field(default_factory=list, max_length=20)
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    status: Literal["new", "open", "pending", "hold", "solved", "closed"] = "open"
    created_at: Instant | None = None


class BatchIn(Strict):
    """{"tickets": [...]}: the shape a batch is validated in, in one pass over the raw JSON."""

    tickets: list[TicketIn] = Field(min_length=1, max_length=MAX_BATCH)


class FilterIn(Strict):
    # In a body (linking, unlinking) a filter must narrow: "every ticket" is said with all: true.
    model_config = ConfigDict(json_schema_extra=schema_rules(anyOf=[
        *({"required": [name], "properties": {name: {"minItems": 1}}} for name in ("tags", "services")),
        {"required": ["text"], "properties": {"text": {"pattern": r"\S"}}},
        *({"required": [name], "properties": {name: {"type": "string"}}} for name in ("since", "until", "source"))]))

    tags: list[Tag] = Field(default_factory=list, max_length=20)
    services: list[Slug] = Field(default_factory=list, max_length=20)
    text: str = Field("", max_length=200)
    since: Instant | None = None
    until: Instant | None = None
    source: Slug | None = None
    unlinked_only: bool = True

    @model_validator(mode="after")
    def _window(self):
        if self.since and self.until and self.since > self.until:
            raise ValueError("since is after until")
        return self

    def to_filter(self, **extra) -> TicketFilter:
        """The filter, with `extra` fields added or overriding (unlinking sets unlinked_only=False)."""
        fields = dict(tags=tuple(self.tags), services=tuple(self.services), text=self.text, since=self.since,
                      until=self.until, source=self.source, unlinked_only=self.unlinked_only)
        return TicketFilter(**{**fields, **extra})


class LinkIn(Strict):
    model_config = ConfigDict(json_schema_extra=schema_rules(oneOf=[
        {"required": ["external_ids"], "properties": {"external_ids": {"type": "array"}}},
        {"required": ["filter"], "properties": {"filter": {"type": "object"}}}]))

    external_ids: list[ExternalId] | None = Field(None, max_length=100_000)
    source: Slug | None = None
    filter: FilterIn | None = None

    @model_validator(mode="after")
    def _one_way(self):
        if (self.external_ids is None) == (self.filter is None):
            raise ValueError("give either external_ids or filter")
        if self.filter is not None and not self.filter.to_filter().narrows:
            raise ValueError("the filter needs at least one of tags, services, text, since, until, source")
        return self


class UnlinkIn(Strict):
    model_config = ConfigDict(json_schema_extra=schema_rules(oneOf=[
        {"required": ["external_ids"], "properties": {"external_ids": {"type": "array"}}},
        {"required": ["filter"], "properties": {"filter": {"type": "object"}}},
        {"required": ["all"], "properties": {"all": {"const": True}}}]))

    external_ids: list[ExternalId] | None = Field(None, max_length=100_000)
    source: Slug | None = None
    filter: FilterIn | None = None
    all: bool = False

    @model_validator(mode="after")
    def _one_way(self):
        if sum([self.external_ids is not None, self.filter is not None, self.all]) != 1:
            raise ValueError("give exactly one of external_ids, filter or all: true")
        if self.filter is not None and not self.filter.to_filter().narrows:
            raise ValueError("the filter needs at least one of tags, services, text, since, until, source")
        return self


class LinkRuleIn(Strict):
    model_config = ConfigDict(json_schema_extra=schema_rules(anyOf=[
        {"required": ["tags"], "properties": {"tags": {"minItems": 1}}},
        {"required": ["text"], "properties": {"text": {"pattern": r"\S"}}},
        {"required": ["services"], "properties": {"services": {"minItems": 1}}}]))

    tags: list[Tag] = Field(default_factory=list, max_length=20)
    text: str = Field("", max_length=200)
    services: list[Slug] = Field(default_factory=list, max_length=20)
    link_existing: bool = False

    @model_validator(mode="after")
    def _something(self):
        if not (self.tags or self.text or self.services):
            raise ValueError("a rule needs tags, text or services")
        return self


class MergeIn(Strict):
    into: int


class DeclareFromFlood(Strict):
    kind: Literal["tag", "service"]
    key: str = Field(min_length=1, max_length=100)
    severity: Literal["SEV1", "SEV2", "SEV3", "SEV4"] = "SEV3"
    title: str | None = Field(None, min_length=1, max_length=200)


def ticket_to_dict(ticket: Ticket, hidden: Collection[int] = ()) -> dict:
    """The ticket as the API shows it; its link to a private incident in `hidden` left out."""
    linked = ticket.incident_id not in hidden
    return {
        "id": ticket.id, "external_id": ticket.external_id, "source": ticket.source,
        "subject": ticket.subject, "description": ticket.description,
        "requester": {"name": ticket.requester_name, "email": ticket.requester_email,
                      "phone": ticket.requester_phone},
        "customer_id": ticket.customer_id, "tags": decode_words(ticket.tags),
        "services": decode_words(ticket.services), "priority": ticket.priority, "status": ticket.status,
        "created_at": isoformat(ticket.created_at), "received_at": isoformat(ticket.received_at),
        "incident_id": ticket.incident_id if linked else None, "linked_at": isoformat(ticket.linked_at) if linked else None,
        "link_method": ticket.link_method if linked else None, "solved_at": isoformat(ticket.solved_at),
    }
