"""Web sessions kept on the server. The cookie carries a random token and nothing else about
the staff member; the database keeps its hash, so logging out (or a new password, or
deactivation) ends the session for good, even for a copy of the cookie."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select

from ..clock import utcnow
from ..extensions import db
from .models import StaffSession, User

# last_seen_at is written at most this often, not on every page view.
TOUCH_EVERY = timedelta(minutes=5)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _lifetime() -> timedelta:
    """How long a session lives without being used (PERMANENT_SESSION_LIFETIME)."""
    return current_app.permanent_session_lifetime


def start_session(user: User) -> str:
    """A new session for `user` (added, not committed); returns the token for the cookie."""
    now = utcnow()
    db.session.execute(delete(StaffSession).where(StaffSession.user_id == user.id,
                                                  StaffSession.last_seen_at <= now - _lifetime()))
    token = secrets.token_urlsafe(32)
    db.session.add(StaffSession(user_id=user.id, token_hash=_digest(token), created_at=now, last_seen_at=now))
    return token


def session_user(token: str) -> User | None:
    """The active staff member this session belongs to; None if it ended, idled out or they were deactivated."""
    row = db.session.scalar(select(StaffSession).where(StaffSession.token_hash == _digest(token)))
    if row is None:
        return None
    now = utcnow()
    if now - row.last_seen_at >= _lifetime() or not row.user.active:
        db.session.delete(row)
        db.session.commit()
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    return row.user


def end_session(token: str) -> None:
    """Log out: the session with this token ends."""
    db.session.execute(delete(StaffSession).where(StaffSession.token_hash == _digest(token)))
    db.session.commit()


def end_all_sessions(user: User) -> None:
    """Every session of `user` ends (flushed, not committed: the caller's change commits it)."""
    db.session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
