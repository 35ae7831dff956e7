"""Failed-login limits per account and per client address.

Counted in the database, so both gunicorn processes and all their threads see the same numbers
(an in-process limiter would let each process allow its own share). An attempt is written down
before its password is checked, so parallel guesses count against each other; a success takes
the account's failures away. Nothing here sleeps: a refused login costs one short query."""
from __future__ import annotations

import hashlib
import hmac
import logging
import math
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, or_, select

from ..clock import utcnow
from ..errors import AppError
from ..extensions import db
from ..validation import normalize_email
from .models import LoginFailure
from .policy import login_retry_after

logger = logging.getLogger(__name__)


class TooManyLoginAttempts(AppError):
    status, code = 429, "too_many_login_attempts"

    def __init__(self, retry_after: int):
        minutes = math.ceil(retry_after / 60)
        super().__init__(f"Too many failed logins. Try again in {minutes} min.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Attempt:
    """A login under way: its rows count as failures unless it succeeds."""

    account_key: str
    row_ids: tuple[int, ...]


def _settings() -> tuple[int, int, timedelta]:
    config = current_app.config
    return (config["LOGIN_FAILURES_PER_ACCOUNT"], config["LOGIN_FAILURES_PER_CLIENT"],
            timedelta(minutes=config["LOGIN_FAILURE_WINDOW_MINUTES"]))


def _key(kind: str, value: str) -> str:
    """A keyed hash, so the table holds no email addresses or client addresses."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _account(email: str) -> str:
    # Unknown and malformed addresses are counted too: a refusal must not tell which accounts exist.
    try:
        return normalize_email(email)
    except ValueError:
        return email.strip().lower()


def begin_attempt(email: str, *, client: str) -> Attempt:
    """Count a login attempt for its account and client address, or raise TooManyLoginAttempts."""
    per_account, per_client, window = _settings()
    now = utcnow()
    db.session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - window))
    limits = {"account": (_key("account", _account(email)), per_account),
              "client": (_key("client", client), per_client)}
    rows = [LoginFailure(key=key, failed_at=now) for key, _ in limits.values()]
    db.session.add_all(rows)
    db.session.commit()  # seen by parallel attempts before this one's password is checked
    ids = tuple(row.id for row in rows)
    for (kind, (key, limit)), row in zip(limits.items(), rows, strict=True):
        earlier = db.session.scalars(select(LoginFailure.failed_at).where(
            LoginFailure.key == key, LoginFailure.id < row.id, LoginFailure.failed_at > now - window)).all()
        wait = login_retry_after(list(earlier), limit=limit, window=window, now=now)
        if wait is not None:
            db.session.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))  # a refusal is no failure
            db.session.commit()
            logger.warning("login refused for %s s: too many failures for this %s", wait, kind)
            raise TooManyLoginAttempts(wait)
    return Attempt(account_key=limits["account"][0], row_ids=ids)


def forget_failures(attempt: Attempt) -> None:
    """A login succeeded: its own rows and the account's earlier failures go (flushed, not committed)."""
    db.session.execute(delete(LoginFailure).where(
        or_(LoginFailure.key == attempt.account_key, LoginFailure.id.in_(attempt.row_ids))))
