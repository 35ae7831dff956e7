"""The dispatcher: the worker claims due outbox rows, sends them, and records what happened.

Claiming marks rows 'sending' and commits before anything leaves, so two dispatchers never
send the same row; a row left 'sending' by a crash is put back after a lease, which is the
only way a message can go out twice (the crash fell between the provider's accept and our
mark). A dispatcher whose connection drops between its claim and its sends puts what it
claimed back itself, on a new connection, rather than leaving customers to wait out the lease.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TypeVar

from flask import Flask, current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import InterfaceError, OperationalError

from .. import metrics
from ..clock import utcnow
from ..dbutil import dialect, execute_dml
from ..extensions import db
from ..vocabulary import Channel, DeliveryStatus
from .channels import RenderedMessage, SendResult, build_channels
from .models import Delivery
from .purposes import own_dispatchers, purpose_for

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
BATCH = 200
T = TypeVar("T")


RECONNECT_WAITS = (0.2, 0.5, 1, 2, 4, 8, 15, 30)   # about a minute in all: a database restart, not an outage


def through_blips(write: Callable[[], T], *, what: str, sleep: Callable[[float], object] | None = None) -> T:
    """Run `write` (it ends with its own commit) again after the database connection dropped: the
    session is thrown away and the next try takes a new connection. A dispatcher holding sends it
    already made writes their results when the database is back, instead of leaving the rows
    'sending' until the lease releases them (and customers waiting the lease out)."""
    for wait_for in (*RECONNECT_WAITS, None):
        try:
            return write()
        except (OperationalError, InterfaceError) as error:
            db.session.remove()   # rolls back what was begun; the next try checks out a new connection
            if wait_for is None:
                raise
            logger.warning("database unavailable while %s (%s); trying again in %s s", what,
                           type(getattr(error, "orig", error)).__name__, wait_for)
            (sleep or time.sleep)(wait_for)
    raise AssertionError("unreachable")


def channels_for(app: Flask) -> dict:
    """The app's channels, built once from its configuration (tests put sandboxes here)."""
    if "tocsin_channels" not in app.extensions:
        app.extensions["tocsin_channels"] = build_channels(app.config)
    return app.extensions["tocsin_channels"]


def backoff(attempts: int) -> timedelta:
    """How long to wait before another try: 5 s, 10 s, 20 s, … up to 10 minutes."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 600))


def retry_wait(attempts: int, retry_after: float | None) -> timedelta:
    """How long a row waits after a failed try worth repeating: the backoff, or longer when the provider
    asks for longer (Retry-After), never shorter. A provider that is down and keeps saying "503, try
    again in 1 s" cannot use up the MAX_ATTEMPTS tries in seconds: a row still gives up only after the
    backoffs add up (5 s + 10 s + … + 320 s = 10 min 35 s), so a five-minute outage fails nothing."""
    return max(backoff(attempts), timedelta(seconds=retry_after or 0))


def release_stale_leases(now) -> None:
    """Rows left 'sending' by a crashed dispatcher go back to the queue after the lease."""
    lease = timedelta(seconds=current_app.config["DISPATCH_LEASE_SECONDS"])
    released = execute_dml(
        update(Delivery).where(Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_at < now - lease)
        .values(status=DeliveryStatus.QUEUED, updated_at=now).execution_options(synchronize_session=False)).rowcount
    if released:   # a dispatcher died holding them (or lost its database for longer than through_blips waits)
        logger.warning("released %s deliveries left 'sending' past the %s s lease", released, int(lease.total_seconds()))


class Claimed(list[int]):
    """The ids one claim marked 'sending', and the `claimed_at` it gave them (`at`)."""

    def __init__(self, ids=(), at: datetime | None = None):
        super().__init__(ids)
        self.at = at


def put_back(*claims: Claimed) -> None:
    """Rows this process claimed and has not sent go back to the queue now, their try not counted —
    on a new connection, through a blip. Only rows still 'sending' under these claims are touched."""
    claims = tuple(c for c in claims if c)

    def write() -> int:
        now, undone = utcnow(), 0
        for claimed in claims:
            undone += execute_dml(
                update(Delivery).where(Delivery.id.in_(list(claimed)), Delivery.status == DeliveryStatus.SENDING,
                                       Delivery.claimed_at == claimed.at)
                .values(status=DeliveryStatus.QUEUED, attempts=Delivery.attempts - 1, updated_at=now)
                .execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        return undone

    if claims:
        undone = through_blips(write, what="putting back rows claimed before the connection dropped")
        logger.warning("the database connection dropped after a claim: put back %s deliveries, not sent", undone)


@contextmanager
def unsent(claims: list[Claimed]) -> Iterator[None]:
    """Around the work between claims and the sends (`claims` may grow inside): if the database connection
    drops there, what was claimed is put back at once instead of waiting out the lease; the error goes on."""
    try:
        yield
    except (OperationalError, InterfaceError):
        db.session.remove()
        put_back(*claims)
        raise


def claim(limit: int, *where) -> Claimed:
    """Mark up to `limit` due rows 'sending' for this dispatcher and commit; their ids.

    Pages and other staff messages go first: broadcasts have their own dispatcher (sender.py).
    """
    now = utcnow()
    release_stale_leases(now)
    query = (select(Delivery.id).where(Delivery.status == DeliveryStatus.QUEUED, Delivery.next_attempt_at <= now, *where)
             .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit))
    if dialect() == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(query))
    if ids:
        # Guarded by status, so on SQLite a row another dispatcher took in between is not taken twice.
        db.session.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.status == DeliveryStatus.QUEUED)
                           .values(status=DeliveryStatus.SENDING, claimed_at=now, attempts=Delivery.attempts + 1,
                                   updated_at=now)
                           .execution_options(synchronize_session=False))
        ids = list(db.session.scalars(select(Delivery.id).where(
            Delivery.id.in_(ids), Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_at == now)))
    with unsent([Claimed(ids, now)]):   # a commit cut off may have landed or not: either way they go back
        db.session.commit()
    return Claimed(ids, now)


def _send(channel, row: dict) -> SendResult:
    headers = row["headers"] or {}
    message = RenderedMessage(text=row["text"], subject=row["subject"], html=row["html"], blocks=row["blocks"],
                              headers={} if row["channel"] == Channel.SLACK else headers)
    try:
        special = purpose_for(row["purpose"])
        if special is not None and special.send is not None:
            return special.send(channel, row, message)
        if row["ref"] and hasattr(channel, "update"):
            return channel.update(row["ref"], message)
        return channel.send(row["recipient"], message)
    except Exception as error:  # a channel should not raise; if one does, retry rather than lose it
        logger.exception("channel %s raised", row["channel"])
        return SendResult(ok=False, error=type(error).__name__, retryable=True)


def outcome(attempts: int, result: SendResult, sandbox: bool, now) -> dict:
    """The columns a send's result sets on its row."""
    if result.ok:
        return {"status": DeliveryStatus.SENT, "provider_id": result.provider_id, "sent_at": now, "error": None,
                "sandbox": sandbox}
    if result.retryable and attempts < MAX_ATTEMPTS:
        return {"status": DeliveryStatus.QUEUED, "next_attempt_at": now + retry_wait(attempts, result.retry_after),
                "error": result.error}
    return {"status": DeliveryStatus.FAILED, "error": result.error}


def write_outcomes(values: list[dict], now) -> None:
    """Record sends' results (each dict: `row_id` and the columns to set), one executemany per
    shape of dict rather than a statement per row, and only on rows still claimed ('sending'):
    a row cancelled meanwhile keeps its cancellation. No commit."""
    by_shape: dict[tuple, list] = {}
    for row in values:
        metrics.count_send(row.pop("channel_sent_on", None), row["status"])
        row["updated_at"] = now
        by_shape.setdefault(tuple(sorted(row)), []).append(row)
    table = Delivery.__table__   # Core: an executemany with a WHERE of our own
    for shape, rows in by_shape.items():
        statement = (update(table).where(table.c.id == bindparam("row_id"), table.c.status == DeliveryStatus.SENDING)
                     .values({key: bindparam(key) for key in shape if key != "row_id"}))
        db.session.execute(statement, rows)


def dispatch_due(app: Flask, *, limit: int = BATCH, workers: int = 32) -> int:
    """Send the pages and staff messages due now; returns how many rows were tried."""
    with app.app_context():
        ids = claim(limit, Delivery.purpose.not_in(("broadcast", *own_dispatchers())))
        if not ids:
            return 0
        with unsent([ids]):
            rows = [dict(r._mapping) for r in db.session.execute(select(
                Delivery.id, Delivery.purpose, Delivery.incident_id, Delivery.channel, Delivery.recipient,
                Delivery.text, Delivery.subject, Delivery.html, Delivery.blocks, Delivery.headers, Delivery.ref,
                Delivery.attempts).where(Delivery.id.in_(ids)))]
            for purpose in {row["purpose"] for row in rows}:
                special = purpose_for(purpose)
                if special is not None and special.prepare is not None:
                    special.prepare([row for row in rows if row["purpose"] == purpose])
            db.session.rollback()
        channels = channels_for(app)
        with ThreadPoolExecutor(max_workers=min(workers, len(rows))) as pool:
            results = list(pool.map(lambda r: _send(channels[r["channel"]], r), rows))

        def write() -> None:
            now = utcnow()
            write_outcomes([{"row_id": row["id"], "channel_sent_on": row["channel"],
                             **outcome(row["attempts"], result, getattr(channels[row["channel"]], "sandbox", False),
                                       now)}
                            for row, result in zip(rows, results, strict=True)], now)
            for row, result in zip(rows, results, strict=True):
                special = purpose_for(row["purpose"])
                if result.ok and special is not None and special.on_sent is not None:
                    special.on_sent(row, result)
            db.session.commit()

        through_blips(write, what="recording pages sent")
        return len(rows)
