"""One-time links to set a password (an invitation, or a reset an admin hands over).

The link is signed, not stored: it names the staff member, when it was made and a fingerprint of
their password hash as it was then. Setting a password changes the hash, so the link works once;
it expires after LINK_LIFETIME by Tocsin's clock; deactivation makes it worthless.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from ..clock import utcnow
from .models import User

LINK_LIFETIME = timedelta(days=3)
PATH = "/password/"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="tocsin-password-link")


def _fingerprint(user: User) -> str:
    return hashlib.sha256(f"{user.id}:{user.password_hash or ''}".encode()).hexdigest()[:24]


def make_link(user: User) -> str:
    """The absolute set-password link for `user` (after a flush: the user needs its id)."""
    token = _serializer().dumps({"u": user.id, "h": _fingerprint(user), "at": int(utcnow().timestamp())})
    return current_app.config["PUBLIC_BASE_URL"] + PATH + token


def read_link(token: str) -> tuple[int, str, datetime] | None:
    """(user id, fingerprint, made at) from a link's token; None when it was not signed here."""
    try:
        data = _serializer().loads(token)
        return int(data["u"]), str(data["h"]), datetime.fromtimestamp(int(data["at"]), timezone.utc)
    except (BadSignature, KeyError, TypeError, ValueError, OverflowError):
        return None


def link_fits(user: User, fingerprint: str, made_at: datetime) -> bool:
    """True while the link is unused (the password is as it was) and younger than LINK_LIFETIME."""
    return (user.active and fingerprint == _fingerprint(user)
            and made_at <= utcnow() < made_at + LINK_LIFETIME)
