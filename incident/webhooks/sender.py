"""The worker's webhook job: claim due webhook messages from the outbox, sign and POST them, log
every attempt, retry failures with exponential backoff (the outbox's: 5 s, 10 s, 20 s, … 10 min,
8 attempts; a target's Retry-After makes a wait longer, never shorter). The target is checked again
before each attempt, and the address actually connected to once connected; redirects are not followed."""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from flask import Flask
from requests.adapters import HTTPAdapter
from sqlalchemy import select
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..clock import utcnow
from ..extensions import db
from ..outbox.channels import SendResult
from ..outbox.dispatch import claim, outcome, unsent, write_outcomes
from ..outbox.models import Delivery
from . import signing, targets
from .models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from .service import PURPOSE

logger = logging.getLogger(__name__)
BATCH = 50
TIMEOUT = (3.05, 10)          # connect, read (seconds)
USER_AGENT = "Tocsin-Webhooks/1"


@dataclass(frozen=True)
class Attempt:
    result: SendResult
    status_code: int | None
    duration_ms: int


class _PeerRefused(targets.TargetRefused):
    pass


def _check_peer(sock) -> None:
    """After connecting: the address really connected to must be allowed too, whatever a second DNS
    answer said (a name that resolved to a public address for the check and a private one now)."""
    peer = sock.getpeername()[0]
    why = targets.forbidden(peer)
    if why:
        sock.close()
        raise _PeerRefused(f"connected to a {why} address ({peer})")


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self):
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    """Connections whose peer address is checked once connected."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}


def _session(*, allow_private: bool) -> requests.Session:
    session = requests.Session()
    session.trust_env = False   # no proxy from the environment: the address checked is the one connected to
    if not allow_private:
        for scheme in ("http://", "https://"):
            session.mount(scheme, _CheckedAdapter())
    return session


def post(url: str, secret: str, event_id: str, body: bytes, *, allow_private: bool, timestamp: int) -> Attempt:
    """One signed POST; never raises. 2xx is delivered; anything else, or no answer, is retried
    (a target that is not allowed fails for good). Neither the URL nor the secret reaches the error."""
    started = time.monotonic()
    try:
        targets.check(url, allow_private=allow_private)
    except targets.TargetRefused as error:
        return Attempt(SendResult(ok=False, error=f"target refused: {error.reason}"[:300], retryable=error.retryable),
                       None, 0)
    headers = {**signing.headers(secret, event_id, timestamp, body), "user-agent": USER_AGENT}
    try:
        with _session(allow_private=allow_private) as session:
            response = session.post(url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False,
                                    stream=True)
            response.close()
    except _PeerRefused as error:
        return Attempt(SendResult(ok=False, error=f"target refused: {error.reason}"[:300]), None, _ms(started))
    except requests.RequestException as error:
        return Attempt(SendResult(ok=False, error=type(error).__name__, retryable=True), None, _ms(started))
    duration = _ms(started)
    if 200 <= response.status_code < 300:
        return Attempt(SendResult(ok=True, provider_id=str(response.status_code)), response.status_code, duration)
    retry_after = _retry_after(response.headers.get("Retry-After")) if response.status_code in (429, 503) else None
    return Attempt(SendResult(ok=False, error=f"HTTP {response.status_code}", retryable=True, retry_after=retry_after),
                   response.status_code, duration)


def _ms(started: float) -> int:
    return int(round((time.monotonic() - started) * 1000))


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return min(max(seconds, 1.0), 3600.0) if seconds is not None and seconds == seconds else None


def dispatch_due(app: Flask, *, limit: int = BATCH, workers: int = 8) -> int:
    """Send the webhook messages due now; returns how many were tried."""
    with app.app_context():
        ids = claim(limit, Delivery.purpose == PURPOSE)
        if not ids:
            return 0
        with unsent([ids]):   # the connection dropping here puts them back rather than leaving them to the lease
            rows = [dict(r._mapping) for r in db.session.execute(
                select(Delivery.id, Delivery.attempts, Delivery.text, WebhookMessage.id.label("message_id"),
                       WebhookMessage.event_id, WebhookEndpoint.url, WebhookEndpoint.secret, WebhookEndpoint.deleted_at)
                .join(WebhookMessage, WebhookMessage.delivery_id == Delivery.id)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
                .where(Delivery.id.in_(ids)))]
            db.session.rollback()   # no transaction held open while waiting on the endpoints
        allow_private = bool(app.config.get("WEBHOOKS_ALLOW_PRIVATE_TARGETS"))
        timestamp = int(utcnow().timestamp())

        def attempt(row: dict) -> Attempt:
            if row["deleted_at"] is not None:
                return Attempt(SendResult(ok=False, error="webhook deleted"), None, 0)
            return post(row["url"], row["secret"], row["event_id"], row["text"].encode(), allow_private=allow_private,
                         timestamp=timestamp)

        with ThreadPoolExecutor(max_workers=min(workers, len(rows))) as pool:
            attempts = list(pool.map(attempt, rows))
        now = utcnow()
        write_outcomes([{"row_id": row["id"], "channel_sent_on": "webhook", **outcome(row["attempts"], a.result, False, now)}
                        for row, a in zip(rows, attempts, strict=True)], now)
        db.session.add_all([WebhookAttempt(message_id=row["message_id"], at=now, ok=a.result.ok,
                                           status_code=a.status_code, duration_ms=a.duration_ms, error=a.result.error)
                            for row, a in zip(rows, attempts, strict=True)])
        db.session.commit()
        for row, a in zip(rows, attempts, strict=True):
            if not a.result.ok:
                logger.info("webhook message %s attempt %s failed: %s", row["event_id"], row["attempts"], a.result.error)
        return len(rows)
