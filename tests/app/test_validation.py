"""Emails and phone numbers: the fast path for plain addresses agrees with email-validator."""
from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from incident.validation import mask_phone, normalize_email, normalize_phone

ADDRESSES = [
    "mara@example.com", "Mara.Rossi@Example.COM", "a+tag@sub.example.co.uk", "x_y-z@ex-ample.it",
    "a..b@example.com", ".a@example.com", "a.@example.com", "a@-example.com", "a@example-.com",
    "a@example", "a@example.c", "a@localhost", "a@host.local", "a@x.test", "a@b.invalid", "@example.com",
    "a@", "a b@example.com", "a@exa mple.com", "a" * 65 + "@example.com", "a@" + "b" * 64 + ".com",
    "mara@exämple.com", "mära@example.com", "a@123.com", "a@example.123", "o'hara@example.ie",
    "first.last+filter@mail.example.org", "a@[127.0.0.1]", "\"quoted\"@example.com",
]


def reference(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@pytest.mark.parametrize("address", ADDRESSES)
def test_email_fast_path_agrees_with_email_validator(address):
    try:
        ours = normalize_email(address)
    except ValueError:
        ours = None
    assert ours == reference(address)


def test_phone_numbers_are_normalised_or_refused():
    assert normalize_phone("+39 347 123 4567") == "+393471234567"
    assert normalize_phone("347 123 4567", region="IT") == "+393471234567"
    for bad in ("12", "not a number", "+39 000", ""):
        with pytest.raises(ValueError):
            normalize_phone(bad)


def test_phone_numbers_are_masked_for_logs():
    assert mask_phone("+393471234567") == "+39********67"
    assert "1234" not in mask_phone("+393471234567")
