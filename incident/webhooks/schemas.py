"""Request schemas for the webhooks API."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..api import Strict
from .service import EVENTS
from .signing import SECRET_RE
from .targets import MAX_URL

EventName = Literal[EVENTS]  # type: ignore[valid-type]


class WebhookIn(Strict):
    # checked by targets.check, which says what is wrong; the document says the same shape
    url: str = Field(max_length=MAX_URL, json_schema_extra={"pattern": r"^https?://[^\s]+$", "minLength": 8},
                     description="http:// or https://; loopback, private and link-local targets are refused "
                                 "unless WEBHOOKS_ALLOW_PRIVATE_TARGETS=1")
    events: list[EventName] = Field(min_length=1, max_length=len(EVENTS))
    secret: str | None = Field(None, pattern=SECRET_RE.pattern,
                               description="whsec_ and 24 to 64 bytes in base64; left out: one is made and shown once")
    description: str = Field("", max_length=200)
