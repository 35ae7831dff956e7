"""The status page's words, in the reader's language (?lang=, else Accept-Language, else the default).

The words themselves are the language files' (`incident/locales/<tag>.toml`); this module picks
the language and formats times for the page and its messages.
"""
from __future__ import annotations

from datetime import date, datetime

from .. import locales


def available() -> tuple[str, ...]:
    """The languages the page is shown in."""
    return locales.available()


def pick_locale(requested: str | None, accept_languages) -> str:
    """?lang= when it names a language we speak, else the browser's best match, else the default."""
    accepted = [value for value, _ in accept_languages] if accept_languages else []
    return locales.best_match(accepted, requested)


def t(locale: str, key: str, **values) -> str:
    return locales.t(locale, key, **values)


def format_when(value: datetime | None, locale: str | None) -> str:
    """'22 Nov 2026 09:30 UTC' (in the reader's language)."""
    return locales.format_when(value, locale)


def format_day(value: date, locale: str) -> str:
    return locales.format_day(value, locale)
