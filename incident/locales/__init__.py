"""Languages: BCP 47 tags, the fallback chain, and the language files every customer-facing word comes from.

A customer's `locale` is any BCP 47 tag Babel knows (`fr`, `de-CH`, `pt-BR`, `zh-Hant-TW`),
stored in its canonical spelling. Tocsin speaks a language when a strings file for it exists:
`<tag>.toml` in one of the language directories (`LOCALE_DIRS` first, then the shipped ones
beside this module); its message templates are files too (`incident/broadcast/templates`, same
directories first). Adding a language is adding those files, nothing else.

Every lookup walks the chain `de-CH` → `de` → `DEFAULT_LOCALE` (and its parents) → `en`,
and takes the first language that has the string or template; English ships complete, so the
walk always ends. Dates and numbers are formatted by Babel in the reader's own locale.
"""
from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.core import parse_locale
from babel.dates import format_date as _babel_date
from babel.numbers import format_decimal

SHIPPED_DIR = Path(__file__).resolve().parent
FALLBACK = "en"            # ships every string and template: the end of every chain
MAX_TAG = 35               # RFC 5646 §4.4.1: room for any tag worth storing

_state: dict = {"default": FALLBACK, "dirs": (SHIPPED_DIR,)}


class InvalidLocale(ValueError):
    """A tag that is not BCP 47, or names a language, script or region nobody has heard of."""


@lru_cache(maxsize=1)
def _known() -> tuple[frozenset, frozenset]:
    english = Locale("en")
    return frozenset(english.territories), frozenset(english.scripts)


@lru_cache(maxsize=4096)
def parse_tag(raw: str) -> str:
    """The canonical BCP 47 spelling of a tag (`de_ch` → `de-CH`); InvalidLocale says why not."""
    text = (raw or "").strip()
    if not text:
        raise InvalidLocale("a language tag is required, e.g. en, fr or de-CH")
    if len(text) > MAX_TAG:
        raise InvalidLocale(f"{text[:20]!r}… is longer than {MAX_TAG} characters")
    try:
        language, territory, script, variant = parse_locale(text.replace("-", "_"))[:4]
    except ValueError:
        raise InvalidLocale(f"{text!r} is not a BCP 47 language tag (e.g. en, fr, de-CH, pt-BR)") from None
    try:
        Locale(language)
    except (UnknownLocaleError, ValueError):
        raise InvalidLocale(f"{text!r}: unknown language {language!r}") from None
    territories, scripts = _known()
    if territory and (territory not in territories or territory == "ZZ"):
        raise InvalidLocale(f"{text!r}: unknown region {territory!r}")
    if script and (script not in scripts or script == "Zzzz"):
        raise InvalidLocale(f"{text!r}: unknown script {script!r}")
    if variant and not (len(variant) >= 5 or (len(variant) == 4 and variant[0].isdigit())):
        raise InvalidLocale(f"{text!r}: {variant!r} is not a variant subtag")
    return "-".join(part for part in (language, script, territory, variant.lower() if variant else None) if part)


def is_valid(raw: str) -> bool:
    try:
        parse_tag(raw)
    except InvalidLocale:
        return False
    return True


def _parents(tag: str) -> list[str]:
    parts = tag.split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]


def chain(tag: str | None) -> list[str]:
    """`de-CH` → ["de-CH", "de", DEFAULT_LOCALE…, "en"]; a tag that does not parse starts at the default."""
    try:
        own = _parents(parse_tag(tag)) if tag else []
    except InvalidLocale:
        own = []
    return list(dict.fromkeys([*own, *_parents(_state["default"]), FALLBACK]))


def configure(*, default: str = FALLBACK, extra_dirs: Iterable[str | Path] = ()) -> None:
    """Set DEFAULT_LOCALE and the language directories searched before the shipped ones (at start)."""
    _state["default"] = parse_tag(default)
    _state["dirs"] = tuple(dict.fromkeys([*(Path(d).resolve() for d in extra_dirs), SHIPPED_DIR]))
    _strings.cache_clear()
    _available.cache_clear()


def default_locale() -> str:
    return _state["default"]


def extra_dirs() -> tuple[Path, ...]:
    """The LOCALE_DIRS, searched before the shipped files."""
    return tuple(d for d in _state["dirs"] if d != SHIPPED_DIR)


def language_dirs() -> tuple[Path, ...]:
    """Where language files are looked for, first match wins: LOCALE_DIRS, then the shipped ones."""
    return _state["dirs"]


@lru_cache(maxsize=1)
def _available() -> tuple[str, ...]:
    found: set[str] = set()
    for directory in _state["dirs"]:
        for path in directory.glob("*.toml"):
            if is_valid(path.stem):
                found.add(parse_tag(path.stem))
    return tuple(sorted(found, key=lambda t: (t != FALLBACK, t)))


def available() -> tuple[str, ...]:
    """The languages Tocsin speaks (English first): those with a strings file."""
    return _available()


def spoken_language(tag: str) -> str | None:
    """The language Tocsin speaks that this tag is (or is a region of): "it-IT" -> "it"; None if none."""
    spoken = set(available())
    try:
        return next((p for p in _parents(parse_tag(tag)) if p in spoken), None)
    except InvalidLocale:
        return None


def language_for(tag: str | None) -> str:
    """The language a reader with this tag is written to: the first in their chain that Tocsin speaks."""
    spoken = set(available())
    return next(t for t in chain(tag) if t in spoken or t == FALLBACK)


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


@lru_cache(maxsize=None)
def _strings(tag: str) -> dict[str, str]:
    for directory in _state["dirs"]:
        path = directory / f"{tag}.toml"
        if path.is_file():
            with path.open("rb") as handle:
                return _flatten(tomllib.load(handle))
    return {}


def t(tag: str | None, key: str, **values) -> str:
    """The string `key` in the first language of the chain that has it, with `values` filled in."""
    for candidate in chain(tag):
        text = _strings(candidate).get(key)
        if text is not None:
            return text.format(**values) if values else text
    raise KeyError(f"no string {key!r} in any language (English must have it)")


def join_list(items: Sequence[str], tag: str | None) -> str:
    """"a", "a and b", "a, b and c" — with the reader's word for "and"."""
    items = [str(item) for item in items if str(item).strip()]
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {t(tag, 'wording.and')} {items[-1]}"


def has(tag: str, key: str) -> bool:
    """Whether this very language (no fallback) has the string."""
    return key in _strings(tag)


def babel_locale(tag: str | None) -> Locale:
    for candidate in chain(tag):
        try:
            return Locale.parse(candidate.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            continue
    return Locale("en")


def format_day(value: date, tag: str | None, pattern_key: str = "format.date") -> str:
    """A day in the reader's words: the pattern (CLDR, from the strings) filled in by Babel."""
    return _babel_date(value, t(tag, pattern_key), locale=babel_locale(tag))


def format_when(value: datetime | None, tag: str | None) -> str:
    """"22 Nov 2026 09:30 UTC", "22 nov. 2026 09:30 UTC", … (times stay UTC, 24-hour)."""
    if value is None:
        return ""
    value = value.astimezone(timezone.utc)
    return f"{format_day(value, tag, 'format.date')} {value:%H:%M} UTC"


def format_number(value: int | float, tag: str | None) -> str:
    return format_decimal(value, locale=babel_locale(tag))


def best_match(accepted: Sequence[str] | None, requested: str | None = None) -> str:
    """The language of a page: ?lang= when Tocsin speaks it (or a parent of it), else the browser's
    best match, else the default."""
    spoken = set(available())
    for candidate in ([requested] if requested else []) + list(accepted or []):
        try:
            tag = parse_tag(candidate)
        except InvalidLocale:
            continue
        found = next((p for p in _parents(tag) if p in spoken), None)
        if found:
            return found
    return language_for(_state["default"])
