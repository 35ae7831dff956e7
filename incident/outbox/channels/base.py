"""The channel interface: a rendered message in, a result out."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class RenderedMessage:
    """What to send, already worded for the channel."""

    text: str                          # SMS body, email text part, Slack fallback text
    subject: str = ""                  # email subject
    html: str | None = None            # email HTML part
    blocks: list | None = None         # Slack Block Kit blocks
    headers: dict = field(default_factory=dict)  # extra email headers (List-Unsubscribe, …)


@dataclass(frozen=True)
class SendResult:
    """How a send went: sent, retry later, or failed for good."""

    ok: bool
    provider_id: str | None = None     # Slack "channel:ts", Twilio SID, email Message-ID
    error: str | None = None           # short and safe to show: "channel_not_found", "21610"
    retryable: bool = False
    retry_after: float | None = None   # seconds, when the provider said (429 Retry-After)


class Channel(Protocol):
    name: str

    def send(self, to: str, message: RenderedMessage) -> SendResult: ...
