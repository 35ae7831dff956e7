"""Customer rules: pure functions, no database."""
from __future__ import annotations

from .. import locales
from .models import CHANNELS

ADDRESS = {"email": "email", "sms": "phone", "slack": "slack_channel"}  # channel -> the field it needs
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})


def normalize_locale(raw: str) -> str:
    """Any BCP 47 tag, in its canonical spelling: "it_it" -> "it-IT", "PT-br" -> "pt-BR".

    A tag that is not BCP 47, or names a language or region that does not exist, is a ValueError
    saying why. A real language Tocsin has no messages in is kept: its readers are written to in
    the next language of their chain (`de-CH` -> `de` -> DEFAULT_LOCALE), and get their own as
    soon as its files are added.
    """
    return locales.parse_tag(raw)


def check_channels(channels: list[str]) -> list[str]:
    """Known channels, each once, in the order given."""
    for channel in channels:
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; use {', '.join(CHANNELS)}")
    if len(set(channels)) != len(channels):
        raise ValueError("each channel may be listed once")
    return channels


def default_channels(record: dict) -> list[str]:
    """The preference of a customer who gave none: every channel they have an address for."""
    return [channel for channel in ("email", "sms", "slack") if record.get(ADDRESS[channel])]


def missing_addresses(record: dict) -> str | None:
    """Why the preferred channels cannot all be reached (e.g. "sms" without a phone), or None."""
    missing = [f"{channel} needs {ADDRESS[channel]}" for channel in record.get("channels") or []
               if channel in ADDRESS and not record.get(ADDRESS[channel])]   # a ticket is theirs per incident
    return "; ".join(missing) or None
