"""Staff accounts and API tokens: create, authenticate, log in, revoke."""
from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from .. import audit
from ..clock import utcnow
from ..errors import Conflict, NotFound, Unauthorized, ValidationFailed
from ..extensions import db
from ..validation import mask_phone, normalize_email, normalize_phone
from ..vocabulary import AuditKind
from . import throttle
from .models import ApiToken, User
from .policy import PERMISSION_ROLES
from .sessions import end_all_sessions, start_session

logger = logging.getLogger(__name__)

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
TOKEN_PREFIX = "tcs_"
MIN_PASSWORD_LENGTH = 10
Actor = User | str | None   # who makes a change, for the audit trail (None: whoever is acting now)


def staff_view(user: User) -> dict:
    """What the audit trail keeps of a staff member (never the password; the phone masked)."""
    return {"email": user.email, "name": user.name, "role": user.role, "active": user.active,
            "phone": mask_phone(user.phone), "slack_id": user.slack_id}


def token_view(token: ApiToken, email: str) -> dict:
    """What the audit trail keeps of an API token: never the token or its hash."""
    return {"user": email, "prefix": token.prefix, "name": token.name, "revoked_at": token.revoked_at}


class WrongCredentials(Unauthorized):
    def __init__(self):
        super().__init__("Wrong email or password.", code="wrong_credentials")


def get_user_by_email(email: str) -> User | None:
    """The staff member with this email (any case), or None."""
    try:
        email = normalize_email(email)
    except ValueError:
        return None
    return db.session.scalar(select(User).where(User.email == email))


def get_user_by_email_or_raise(email: str) -> User:
    user = get_user_by_email(email)
    if user is None or not user.active:
        raise ValidationFailed(f"No active staff member {email!r}.", code="unknown_user",
                               details={"user": "unknown user"})
    return user


def create_user(email: str, *, role: str, name: str = "", phone: str | None = None,
                slack_id: str | None = None, password: str | None = None, actor: Actor = None) -> User:
    """Add a staff member with a permission role."""
    errors = {}
    try:
        email = normalize_email(email)
    except ValueError as error:
        errors["email"] = str(error)
    if role not in PERMISSION_ROLES:
        errors["role"] = f"one of {', '.join(PERMISSION_ROLES)}"
    if phone:
        try:
            phone = normalize_phone(phone)
        except ValueError as error:
            errors["phone"] = str(error)
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = f"at least {MIN_PASSWORD_LENGTH} characters"
    if errors:
        raise ValidationFailed("Invalid user.", details=errors)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A staff member {email} exists already.", code="user_exists")
    user = User(email=email, role=role, name=name.strip(), phone=phone or None,
                slack_id=slack_id or None,
                password_hash=_hasher.hash(password) if password else None)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, AuditKind.STAFF, email, None, staff_view(user))
    db.session.commit()
    logger.info("created staff member %s with role %s", email, role)
    return user


def set_password(user: User, password: str, *, actor: Actor = None) -> None:
    """Replace a staff member's password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed("Password too short.",
                               details={"password": f"at least {MIN_PASSWORD_LENGTH} characters"})
    user.password_hash = _hasher.hash(password)
    audit.record(actor, AuditKind.STAFF, user.email, {"password": "(old)"}, {"password": "(new)"},
                 action="password_changed")
    end_all_sessions(user)  # whoever knew the old password is logged out everywhere
    db.session.commit()


def deactivate_user(user: User, *, actor: Actor = None) -> None:
    """Take a staff member's access away: they can no longer log in, and their sessions end."""
    before = staff_view(user)
    user.active = False
    audit.record(actor, AuditKind.STAFF, user.email, before, staff_view(user), action="deactivated")
    end_all_sessions(user)
    db.session.commit()
    logger.info("deactivated staff member %s", user.email)


def log_in(email: str, password: str, *, client: str) -> str:
    """A web login within the failure limits: the new session's token, for the cookie.
    Raises TooManyLoginAttempts (429) or WrongCredentials (401); neither ever waits."""
    attempt = throttle.begin_attempt(email, client=client)
    user = authenticate(email, password)
    if user is None:
        raise WrongCredentials()  # the attempt stays counted as a failure
    throttle.forget_failures(attempt)
    token = start_session(user)
    db.session.commit()
    return token


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, else None; unknown emails cost the same."""
    user = get_user_by_email(email)
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active or stored is _DUMMY_HASH:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
        db.session.commit()
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(email: str, *, name: str = "", actor: Actor = None) -> str:
    """A new API token for a staff member; only its hash is stored, so it is shown once."""
    user = get_user_by_email(email)
    if user is None:
        raise NotFound(f"No staff member {email}.", code="unknown_user")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_digest(token), prefix=token[:12], name=name)
    db.session.add(row)
    audit.record(actor, AuditKind.TOKEN, row.prefix, None, token_view(row, user.email))
    db.session.commit()
    logger.info("created API token %s… for %s", token[:12], user.email)
    return token


def revoke_token(prefix_or_token: str, *, actor: Actor = None) -> int:
    """Revoke tokens by their shown prefix (or the whole token); returns how many."""
    value = prefix_or_token.strip()
    query = select(ApiToken).where(ApiToken.revoked_at.is_(None))
    if len(value) > 16:
        query = query.where(ApiToken.token_hash == _digest(value))
    else:
        query = query.where(ApiToken.prefix == value)
    tokens = db.session.scalars(query).all()
    for token in tokens:
        before = token_view(token, token.user.email)
        token.revoked_at = utcnow()
        audit.record(actor, AuditKind.TOKEN, token.prefix, before, token_view(token, token.user.email),
                     action="revoked")
    db.session.commit()
    return len(tokens)


def user_for_token(token: str) -> User | None:
    """The active user a bearer token belongs to, or None if unknown or revoked."""
    row = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
        row.last_used_at = now  # at most one write per token every five minutes
        db.session.commit()
    return row.user
