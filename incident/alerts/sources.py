"""Alert sources and their bearer tokens: create, revoke, authenticate. Only a token's hash is stored."""
from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from sqlalchemy import select

from ..clock import utcnow
from ..errors import Conflict, NotFound, ValidationFailed
from ..extensions import db
from ..uow import use_case
from ..validation import SLUG_RE
from .models import AlertSource

logger = logging.getLogger(__name__)
TOKEN_PREFIX = "tal_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@use_case
def create_source_token(name: str) -> str:
    """A new bearer token for the alert source `name` (created if new); shown once, only its hash kept."""
    name = name.strip().lower()
    if not SLUG_RE.match(name):
        raise ValidationFailed("An alert source's name is lower-case letters, digits, '.', '_' or '-'.",
                               details={"name": "invalid"})
    source = db.session.scalar(select(AlertSource).where(AlertSource.name == name))
    if source is not None and source.revoked_at is None:
        raise Conflict(f"The alert source {name} has a token already; revoke it first.", code="source_exists")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    if source is None:
        source = AlertSource(name=name)
        db.session.add(source)
    source.token_hash, source.prefix, source.created_at = _digest(token), token[:12], utcnow()
    source.revoked_at = source.last_used_at = None
    logger.info("created a token %s… for alert source %s", token[:12], name)
    return token


@use_case
def revoke_source(name: str) -> AlertSource:
    """Revoke the source's token: what it sends from now on is refused (401)."""
    source = db.session.scalar(select(AlertSource).where(AlertSource.name == name.strip().lower(),
                                                         AlertSource.revoked_at.is_(None)))
    if source is None:
        raise NotFound(f"No alert source {name} with a live token.", code="unknown_source")
    source.revoked_at = utcnow()
    return source


def list_sources() -> list[AlertSource]:
    """Every alert source, by name."""
    return list(db.session.scalars(select(AlertSource).order_by(AlertSource.name)))


def source_for_token(token: str) -> AlertSource | None:
    """The live alert source this bearer token belongs to, or None. Notes its use (flushed with the alerts)."""
    if not token:
        return None
    source = db.session.scalar(select(AlertSource).where(AlertSource.token_hash == _digest(token),
                                                         AlertSource.revoked_at.is_(None)))
    if source is not None:
        now = utcnow()
        if source.last_used_at is None or now - source.last_used_at > timedelta(minutes=5):
            source.last_used_at = now
    return source
