"""Validators for the values people type: emails, phone numbers, slugs."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Annotated

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, AwareDatetime, Field, WithJsonSchema

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
MAX_KEY = 2**31 - 1   # the largest id an integer key holds
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(3000, 1, 1, tzinfo=timezone.utc)


# The plain ASCII addresses that make up nearly every real batch, which email-validator would
# accept unchanged (lower-cased). Anything else goes through email-validator itself; a test
# checks the two agree. The shortcut matters: 10,000 requesters per batch, 20 µs each.
_PLAIN_EMAIL = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63})$")
_SPECIAL_USE_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def normalize_email(raw: str) -> str:
    """A syntactically valid address, normalised and lower-cased; ValueError otherwise."""
    value = raw.strip().lower()
    match = _PLAIN_EMAIL.match(value)
    if (match and match.group(1) not in _SPECIAL_USE_TLDS and len(value) <= 254
            and value.index("@") <= 64):
        return value
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None
    return result.normalized.lower()


# phonenumbers compiles its metadata's regular expressions through re.compile, whose cache of 512
# entries other code also fills: kept for good instead (the library's own switch), ~15% off a number.
phonenumbers.enable_pattern_cache()


def normalize_phone(raw: str, *, region: str | None = None) -> str:
    """A possible, valid phone number in E.164 (+393471234567); ValueError otherwise."""
    return _normalized_phone(raw.strip(), region)


@lru_cache(maxsize=16_384)
def _normalized_phone(raw: str, region: str | None) -> str:
    """Remembered: phonenumbers takes ~50 µs a number, and a flood repeats its requesters (the
    same customers writing again, a helpdesk re-sending a batch). Invalid numbers raise, so they
    are never remembered."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number; use the international form, e.g. +393471234567") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(number: str | None) -> str:
    """A phone number fit for logs: country code and last two digits only."""
    if not number:
        return ""
    return number[:3] + "*" * max(len(number) - 5, 0) + number[-2:]


def normalize_slug(raw: str) -> str:
    value = raw.strip().lower()
    if not SLUG_RE.match(value):
        raise ValueError("use lowercase letters, digits, '.', '_' or '-' (at most 63)")
    return value


# What the OpenAPI document says of each: the normalised form, which is always accepted (the
# validators also take upper case and spaces around, and phone numbers with spaces or dashes).
Email = Annotated[str, AfterValidator(normalize_email),
                  WithJsonSchema({"type": "string", "format": "email", "maxLength": 254})]
Phone = Annotated[str, AfterValidator(normalize_phone),
                  WithJsonSchema({"type": "string", "pattern": r"^\+[1-9][0-9]{6,14}$",
                                  "description": "E.164, e.g. +393471234567; it must be a valid number"})]
Slug = Annotated[str, AfterValidator(normalize_slug),
                 WithJsonSchema({"type": "string", "pattern": SLUG_RE.pattern})]


def check_instant(value: datetime) -> datetime:
    """A time the API can compute with: a year 1 or 9999 with an offset cannot even be put in UTC."""
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValueError("must be between 1970 and 2999")
    return value


# Times that requests carry: ISO 8601 with an offset (pydantic's AwareDatetime), in a sane range.
Instant = Annotated[AwareDatetime, AfterValidator(check_instant), WithJsonSchema(
    {"type": "string", "format": "date-time", "description": "ISO 8601 with an offset, between 1970 and 2999"})]
# An id in a request body: what an integer key holds.
Key = Annotated[int, Field(ge=1, le=MAX_KEY)]


def schema_rules(*, not_null: tuple[str, ...] = (), **rules):
    """A model's `json_schema_extra`, so the OpenAPI document is as strict as its validators: fields
    that may be left out but not sent as null, and rules across fields (minProperties, anyOf, ...)."""

    def apply(schema: dict) -> None:
        for name in not_null:
            field = schema["properties"][name]
            options = [option for option in field.pop("anyOf", []) if option.get("type") != "null"]
            field.update(options[0] if len(options) == 1 else {"anyOf": options} if options else {})
            if field.get("default", ...) is None:
                del field["default"]
        schema.update(rules)

    return apply


DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_instant(raw: list[str], name: str, problems: dict[str, str], *, end_of_day: bool) -> datetime | None:
    """A period's bound from a query parameter (its values): a day (UTC; `end_of_day` takes the next
    midnight, so the day is included) or an ISO 8601 time with an offset, between 1970 and 2999;
    None with the reason in `problems[name]` otherwise (or None when not given)."""
    if not raw:
        return None
    if len(raw) > 1:
        problems[name] = "give it once"
        return None
    text = raw[0]
    try:
        if DATE_ONLY.match(text):
            day = date.fromisoformat(text)
            value = datetime.combine(day, time(0), tzinfo=timezone.utc) + (timedelta(days=1) if end_of_day else
                                                                          timedelta(0))
        else:
            value = datetime.fromisoformat(text.replace(" ", "T", 1) if " " in text else text)
    except (ValueError, OverflowError):
        problems[name] = f"not a date or an ISO 8601 time: {text[:40]!r} (e.g. 2026-11-01 or 2026-11-01T09:00:00+00:00)"
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        problems[name] = f"{text[:40]!r} needs an offset, e.g. +00:00 (or give a date alone)"
        return None
    try:
        value = value.astimezone(timezone.utc)
    except OverflowError:
        value = EARLIEST - timedelta(days=1)
    if not EARLIEST <= value < LATEST:
        problems[name] = "must be between 1970 and 2999"
        return None
    return value
