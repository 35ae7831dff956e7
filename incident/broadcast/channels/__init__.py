"""Channels: one small interface over Slack, Twilio SMS, SMTP email and the sandbox.

A channel sends one rendered message to one address and says how it went. It never raises
for a delivery problem, sets short timeouts, touches neither the database nor Flask
globals, and decides neither wording nor recipients.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol


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


CHANNEL_NAMES = ("slack", "sms", "email")

_TRUE = {"1", "true", "yes", "on"}


def _setting(config: Mapping, key: str, default=None):
    value = config.get(key)
    if isinstance(value, str):
        value = value.strip()
    return default if value in (None, "") else value


def _flag(config: Mapping, key: str) -> bool:
    value = _setting(config, key, False)
    return value if isinstance(value, bool) else str(value).lower() in _TRUE


def build_channels(config: Mapping) -> dict[str, Channel]:
    """One channel per name: the real provider when configured, else the sandbox."""
    from .email import SmtpEmail
    from .sandbox import SandboxChannel
    from .slack import DEFAULT_BASE_URL as SLACK_API_URL, SlackChannel
    from .sms import DEFAULT_BASE_URL as TWILIO_API_URL, TwilioSms

    channels: dict[str, Channel] = {}
    token = _setting(config, "SLACK_BOT_TOKEN")
    channels["slack"] = (
        SlackChannel(token, base_url=_setting(config, "SLACK_API_URL", SLACK_API_URL))
        if token else SandboxChannel("slack")
    )
    sid, auth = _setting(config, "TWILIO_ACCOUNT_SID"), _setting(config, "TWILIO_AUTH_TOKEN")
    from_number = _setting(config, "TWILIO_FROM_NUMBER")
    service = _setting(config, "TWILIO_MESSAGING_SERVICE_SID")
    channels["sms"] = (
        TwilioSms(sid, auth, from_number=from_number, messaging_service_sid=service,
                  base_url=_setting(config, "TWILIO_API_URL", TWILIO_API_URL))
        if sid and auth and (from_number or service) else SandboxChannel("sms")
    )
    host = _setting(config, "SMTP_HOST")
    if host:
        starttls = _flag(config, "SMTP_STARTTLS")
        channels["email"] = SmtpEmail(
            host, int(_setting(config, "SMTP_PORT", 587 if starttls else 25)),
            username=_setting(config, "SMTP_USERNAME"), password=_setting(config, "SMTP_PASSWORD"),
            starttls=starttls, mail_from=_setting(config, "MAIL_FROM", "tocsin@localhost"),
        )
    else:
        channels["email"] = SandboxChannel("email")
    return channels
