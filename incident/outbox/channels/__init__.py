"""Channels: one small interface over Slack, Twilio SMS and calls, SMTP email and the sandbox.

A channel sends one rendered message to one address and says how it went. It never raises
for a delivery problem, sets short timeouts, touches neither the database nor Flask
globals, and decides neither wording nor recipients.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from ...vocabulary import Channel as ChannelName
from ...vocabulary import PageChannel
from .base import Channel, RenderedMessage, SendResult
from .email import SmtpEmail
from .sandbox import SandboxChannel
from .slack import DEFAULT_BASE_URL as SLACK_API_URL
from .slack import SlackChannel
from .sms import DEFAULT_BASE_URL as TWILIO_API_URL
from .sms import TwilioSms
from .voice import TwilioVoice

__all__ = ["CHANNEL_NAMES", "LOOK_FIRST", "MARKER", "Channel", "RenderedMessage", "SendResult", "build_channels",
           "register_channel"]


CHANNEL_NAMES = tuple(ChannelName)
# Headers a channel that can see its own past sends reads: the send's marker, and whether it may have gone before
MARKER, LOOK_FIRST = "X-Tocsin-Marker", "X-Tocsin-Look-First"
_FACTORIES: dict[str, Callable[[Mapping], Channel]] = {}


def register_channel(name: str, factory: Callable[[Mapping], Channel]) -> None:
    """A channel built by the feature that owns its provider (the helpdesk's `ticket`): `factory(config)`
    gives the real channel, or the sandbox when the provider is not configured."""
    _FACTORIES[name] = factory


def _setting(config: Mapping, key: str, default=None):
    value = config.get(key)
    if isinstance(value, str):
        value = value.strip()
    return default if value in (None, "") else value


def build_channels(config: Mapping) -> dict[str, Channel]:
    """One channel per name: the real provider when configured, else the sandbox."""
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
        starttls = bool(config.get("SMTP_STARTTLS"))   # parsed from the environment at start
        channels["email"] = SmtpEmail(
            host, _setting(config, "SMTP_PORT", 587 if starttls else 25),
            username=_setting(config, "SMTP_USERNAME"), password=_setting(config, "SMTP_PASSWORD"),
            starttls=starttls, mail_from=_setting(config, "MAIL_FROM", "tocsin@localhost"),
        )
    else:
        channels["email"] = SandboxChannel("email")
    for name in CHANNEL_NAMES:
        if name not in channels:
            channels[name] = _FACTORIES[name](config) if name in _FACTORIES else SandboxChannel(name)
    # Calls page staff only (never a broadcast channel); they need a number to call from.
    caller = _setting(config, "TWILIO_VOICE_FROM_NUMBER") or from_number
    channels[PageChannel.VOICE.value] = (
        TwilioVoice(sid, auth, from_number=caller, base_url=_setting(config, "TWILIO_API_URL", TWILIO_API_URL))
        if sid and auth and caller else SandboxChannel(PageChannel.VOICE.value)
    )
    return channels
