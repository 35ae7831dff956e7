"""Staff accounts and API tokens: create, authenticate, log in (password or single sign-on), revoke;
the staff administration the Staff page and the CLI share (each takes the acting staff member as `actor`)."""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import func, select

from .. import audit
from ..clock import utcnow
from ..errors import Conflict, NotAllowed, NotFound, Unauthorized, ValidationFailed
from ..extensions import db
from ..locales import InvalidLocale, parse_tag
from ..uow import use_case
from ..validation import mask_phone, normalize_email, normalize_phone
from ..vocabulary import AuditKind
from . import throttle
from .links import link_fits, make_link, read_link
from .models import ApiToken, User
from .oidc import Identity
from .policy import PERMISSION_ROLES, decide_sso
from .sessions import end_all_sessions, start_session

logger = logging.getLogger(__name__)

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
TOKEN_PREFIX = "tcs_"
MIN_PASSWORD_LENGTH = 10


class WrongCredentials(Unauthorized):
    def __init__(self):
        super().__init__("Wrong email or password.", code="wrong_credentials")


class PasswordLoginOff(NotAllowed):
    def __init__(self):
        super().__init__("Password login is turned off here; sign in with single sign-on.",
                         code="password_login_off")


Actor = User | str | None   # who makes a change, for the audit trail (None: whoever is acting now)


def staff_view(user: User) -> dict:
    """What the audit trail keeps of a staff member (never the password; the phone masked)."""
    return {"email": user.email, "name": user.name, "role": user.role, "active": user.active,
            "phone": mask_phone(user.phone), "slack_id": user.slack_id, "locale": user.locale}


@use_case
def set_staff_locale(actor: User | None, user: User, locale: str | None) -> None:
    """The language a staff member's pages are read aloud in (None: the default language)."""
    _require_admin(actor)
    before = staff_view(user)
    try:
        user.locale = parse_tag(locale) if locale else None
    except InvalidLocale as error:
        raise ValidationFailed("Invalid language tag.", details={"locale": str(error)}) from None
    _staff_changed(actor, user, before)


def token_view(token: ApiToken, email: str) -> dict:
    """What the audit trail keeps of an API token: never the token or its hash."""
    return {"user": email, "prefix": token.prefix, "name": token.name, "revoked_at": token.revoked_at}


def _staff_changed(actor: Actor, user: User, before: dict | None, action: str | None = None) -> None:
    audit.record(actor, AuditKind.STAFF, user.email, before, staff_view(user), action=action)


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


@use_case(conflict=("A staff member with this email exists already.", "user_exists"))
def create_user(email: str, *, role: str, name: str = "", phone: str | None = None,
                slack_id: str | None = None, password: str | None = None, actor: Actor = None,
                locale: str | None = None) -> User:
    """Add a staff member with a permission role."""
    return _add_user(email, role=role, name=name, phone=phone, slack_id=slack_id, password=password, actor=actor,
                     locale=locale)


def _add_user(email: str, *, role: str, name: str = "", phone: str | None = None,
              slack_id: str | None = None, password: str | None = None, actor: Actor = None,
              locale: str | None = None) -> User:
    """Check and add a staff member (flushed, not committed)."""
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
    if len(name.strip()) > 200:
        errors["name"] = "at most 200 characters"
    if locale:
        try:
            locale = parse_tag(locale)
        except InvalidLocale as error:
            errors["locale"] = str(error)
    if errors:
        raise ValidationFailed("Invalid user.", details=errors)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A staff member {email} exists already.", code="user_exists")
    user = User(email=email, role=role, name=name.strip(), phone=phone or None,
                slack_id=slack_id or None, active=True, locale=locale or None,
                password_hash=_hasher.hash(password) if password else None)
    db.session.add(user)
    db.session.flush()
    _staff_changed(actor, user, None)
    logger.info("created staff member %s with role %s", email, role)
    return user


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed("Password too short.",
                               details={"password": f"at least {MIN_PASSWORD_LENGTH} characters"})


def set_password(user: User, password: str, *, actor: Actor = None) -> None:
    """Replace a staff member's password."""
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    audit.record(actor, AuditKind.STAFF, user.email, {"password": "(old)"}, {"password": "(new)"},
                 action="password_changed")
    end_all_sessions(user)  # whoever knew the old password is logged out everywhere
    db.session.commit()


def log_in(email: str, password: str, *, client: str) -> str:
    """A web login within the failure limits: the new session's token, for the cookie.
    Raises PasswordLoginOff (403), TooManyLoginAttempts (429) or WrongCredentials (401); none ever waits."""
    if not current_app.config["PASSWORD_LOGIN"]:
        raise PasswordLoginOff()
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
        _revoke(actor, token)
    db.session.commit()
    return len(tokens)


def _revoke(actor: Actor, token: ApiToken) -> None:
    before = token_view(token, token.user.email)
    token.revoked_at = utcnow()
    audit.record(actor, AuditKind.TOKEN, token.prefix, before, token_view(token, token.user.email), action="revoked")


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


# --- Single sign-on ------------------------------------------------------------------------------

class SsoRefused(NotAllowed):
    """The provider vouched for someone Tocsin does not let in; the message says why."""

    def __init__(self, reason: str):
        super().__init__(reason, code="sso_refused")


@use_case(conflict=("A first sign-in for this person was already under way; sign in again.", "conflict"))
def sign_in_with_sso(identity: Identity) -> str:
    """Log in someone the sign-in provider vouched for: their account is made on the first sign-in and
    their role follows their groups (OIDC_ROLE_MAP); returns the new session's token for the cookie."""
    config = current_app.config
    decision = decide_sso(identity.email, identity.groups, allowed_domains=config["OIDC_ALLOWED_DOMAINS"],
                          role_map=config["OIDC_ROLE_MAP"])
    if decision.refused:
        logger.info("single sign-on refused: %s", decision.refused)
        raise SsoRefused(decision.refused)
    user = get_user_by_email(identity.email)
    if user is None:
        try:
            user = _add_user(identity.email, role=decision.role or "viewer", name=identity.name[:200])
        except ValidationFailed:
            raise SsoRefused(f"{identity.email!r} is not an email address Tocsin can use.") from None
    elif not user.active:
        raise SsoRefused("Your Tocsin account has been deactivated; ask an admin.")
    elif decision.role and decision.role != user.role:
        logger.info("single sign-on: %s's role follows their groups: %s -> %s", user.email, user.role, decision.role)
        before = staff_view(user)
        user.role = decision.role
        _staff_changed("sso", user, before, "role_from_groups")
    if not user.name and identity.name:
        user.name = identity.name[:200]
    return start_session(user)


# --- Staff administration: the Staff page and the CLI (actor None: the command line) ----------------

@dataclass(frozen=True)
class Invitation:
    user: User
    link: str | None   # a one-time link to set a password; None when password login is off


def list_staff() -> list[User]:
    """Every staff member, active first, then by email."""
    return list(db.session.scalars(select(User).order_by(User.active.desc(), User.email)))


def get_staff_or_raise(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"No staff member {user_id}.", code="unknown_user")
    return user


def list_tokens(user: User) -> list[ApiToken]:
    """A staff member's API tokens that still work, newest first."""
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                                   .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def _require_admin(actor: User | None) -> None:
    if actor is not None and not actor.can("admin"):
        raise NotAllowed(f"Managing staff needs the admin permission; you are {actor.role}.")


def _keep_an_admin(user: User, action: str) -> None:
    """Refuse to take away the last active admin: nobody could manage staff any more."""
    others = db.session.scalar(select(func.count(User.id)).where(
        User.role == "admin", User.active.is_(True), User.id != user.id))
    if user.role == "admin" and user.active and not others:
        raise Conflict(f"{user.email} is the last active admin; make someone else admin before you {action}.",
                       code="last_admin")


@use_case(conflict=("A staff member with this email exists already.", "user_exists"))
def invite_staff(actor: User | None, email: str, *, role: str, name: str = "") -> Invitation:
    """Add a staff member; with password login on, also a one-time link to set their password."""
    _require_admin(actor)
    user = _add_user(email, role=role, name=name, actor=actor)
    return Invitation(user, make_link(user) if current_app.config["PASSWORD_LOGIN"] else None)


@use_case
def change_staff_role(actor: User | None, user: User, role: str) -> None:
    """Give a staff member another permission role."""
    _require_admin(actor)
    if role not in PERMISSION_ROLES:
        raise ValidationFailed("Unknown role.", details={"role": f"one of {', '.join(PERMISSION_ROLES)}"})
    if role != "admin":
        _keep_an_admin(user, "change their role")
    before = staff_view(user)
    user.role = role
    _staff_changed(actor, user, before)
    logger.info("staff member %s now has role %s", user.email, role)


@use_case
def deactivate_staff(actor: User | None, user: User) -> None:
    """Take a staff member's access away: no more logins; their sessions end and their tokens are revoked."""
    _require_admin(actor)
    if actor is not None and actor.id == user.id:
        raise Conflict("You cannot deactivate yourself.", code="self_deactivation")
    _keep_an_admin(user, "deactivate them")
    before = staff_view(user)
    user.active = False
    _staff_changed(actor, user, before, "deactivated")
    end_all_sessions(user)
    for token in list_tokens(user):
        _revoke(actor, token)
    logger.info("deactivated staff member %s", user.email)


@use_case
def reactivate_staff(actor: User | None, user: User) -> None:
    """Let a deactivated staff member log in again (their old tokens stay revoked)."""
    _require_admin(actor)
    before = staff_view(user)
    user.active = True
    _staff_changed(actor, user, before, "reactivated")
    logger.info("reactivated staff member %s", user.email)


@use_case
def revoke_staff_tokens(actor: User | None, user: User, *, token_ids: list[int] | None = None) -> int:
    """Revoke a staff member's API tokens (these, or all of them); returns how many."""
    _require_admin(actor)
    tokens = [t for t in list_tokens(user) if token_ids is None or t.id in token_ids]
    for token in tokens:
        _revoke(actor, token)
    logger.info("revoked %s API token(s) of %s", len(tokens), user.email)
    return len(tokens)


@use_case
def create_password_link(actor: User | None, user: User) -> str:
    """A one-time link for a staff member to set a new password (it ends none of their sessions)."""
    _require_admin(actor)
    if not current_app.config["PASSWORD_LOGIN"]:
        raise PasswordLoginOff()
    if not user.active:
        raise Conflict(f"{user.email} is deactivated.", code="user_inactive")
    return make_link(user)


def user_for_password_link(token: str) -> User:
    """The staff member a set-password link is for, or NotFound when it is unknown, used or expired."""
    read = read_link(token)
    user = db.session.get(User, read[0]) if read else None
    if read is None or user is None or not link_fits(user, read[1], read[2]):
        raise NotFound("This link is not valid: it was used already, it expired or the account is "
                       "deactivated. Ask an admin for a new one.", code="link_invalid")
    return user


@use_case
def set_password_from_link(token: str, password: str) -> User:
    """Set the password a one-time link allows; the link is used up."""
    if not current_app.config["PASSWORD_LOGIN"]:
        raise PasswordLoginOff()
    user = user_for_password_link(token)
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    audit.record(user, AuditKind.STAFF, user.email, {"password": "(old)"}, {"password": "(new)"},
                 action="password_set_from_link")
    end_all_sessions(user)
    return user
