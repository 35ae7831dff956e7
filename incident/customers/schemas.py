"""Request schemas for customers, and how a customer reads in the API."""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from .. import locales
from ..clock import isoformat
from ..validation import SLUG_RE, Email, Phone, Slug, schema_rules
from .models import CHANNELS, Customer
from .policy import check_channels, normalize_locale

MAX_BATCH = 10_000
# A Slack channel id (C0ACME, G…, D…) or a channel name with its '#'.
_SLACK_CHANNEL = re.compile(r"^(?:[CGD][A-Z0-9]{4,39}|#[a-z0-9][a-z0-9._-]{0,38})$")


def _slack_channel(value: str) -> str:
    if not _SLACK_CHANNEL.match(value):
        raise ValueError("a Slack channel id (e.g. C0ACME) or a #channel-name")
    return value


def _segment(value: str) -> str:
    if len(value) > 40:
        raise ValueError("at most 40 characters")
    return value


def _services(names: list[str]) -> list[str]:
    return sorted(set(names))


Locale = Annotated[str, AfterValidator(normalize_locale), WithJsonSchema(
    {"type": "string", "minLength": 2, "maxLength": locales.MAX_TAG,
     "pattern": r"^\s*[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*\s*$",
     "description": "a BCP 47 language tag (en, fr, de-CH, pt-BR); stored canonical (it_it reads as it-IT). "
                    "Messages fall back along de-CH -> de -> DEFAULT_LOCALE."})]
Channels = Annotated[list[str], Field(max_length=4), AfterValidator(check_channels), WithJsonSchema(
    {"type": "array", "items": {"type": "string", "enum": list(CHANNELS)}, "maxItems": 4, "uniqueItems": True})]
SlackChannel = Annotated[str, AfterValidator(_slack_channel),
                         WithJsonSchema({"type": "string", "pattern": _SLACK_CHANNEL.pattern})]
Segment = Annotated[Slug, AfterValidator(_segment),
                    WithJsonSchema({"type": "string", "pattern": SLUG_RE.pattern.replace("{0,62}", "{0,39}")})]
Services = Annotated[list[Slug], Field(max_length=50), AfterValidator(_services)]


class CustomerFields(BaseModel):
    """Every field a customer has. A field left out keeps its stored value; null clears it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: str | None = Field(None, min_length=1, max_length=100)
    name: str = Field("", max_length=200)
    email: Email | None = None
    phone: Phone | None = None
    slack_channel: SlackChannel | None = None
    locale: Locale = Field(default_factory=locales.default_locale)
    segment: Segment | None = None
    channels: Channels | None = None
    services: Services | None = None

    def changes(self) -> dict:
        """The fields the caller sent, normalised ("name": null reads as "")."""
        values = self.model_dump(include=self.model_fields_set)
        for name, empty in (("name", ""), ("locale", locales.default_locale()), ("channels", None), ("services", []),
                            ("opted_out", [])):
            if name in values and values[name] is None:
                values[name] = empty
        return values


class CustomerIn(CustomerFields):
    """A customer to create or update: found by external_id, else by email."""

    model_config = ConfigDict(json_schema_extra=schema_rules(anyOf=[
        {"required": ["external_id"], "properties": {"external_id": {"type": "string"}}},
        {"required": ["email"], "properties": {"email": {"type": "string"}}}]))

    @model_validator(mode="after")
    def _identified(self):
        if not self.external_id and not self.email:
            raise ValueError("give external_id or email: they identify the customer")
        return self


class CustomerPatch(CustomerFields):
    """Preferences, opt-outs and details of one customer; only the fields sent change."""

    opted_out: Channels | None = None


def customer_to_dict(customer: Customer) -> dict:
    return {
        "id": customer.id, "external_id": customer.external_id, "name": customer.name,
        "email": customer.email, "phone": customer.phone, "slack_channel": customer.slack_channel,
        "locale": customer.locale, "segment": customer.segment, "channels": list(customer.channels or []),
        "opted_out": list(customer.opted_out or []), "services": [s.name for s in customer.services],
        "created_at": isoformat(customer.created_at), "updated_at": isoformat(customer.updated_at),
    }
