"""The broadcast dispatcher: sends customers' messages fast, at each channel's rate, exactly once each.

It runs in the worker beside the tick (pages never wait behind a broadcast). It keeps a
pool of sending threads busy: it claims due rows in batches (atomically; FOR UPDATE SKIP
LOCKED on PostgreSQL), personalises each message (name, unsubscribe link), paces each
channel to CHANNEL_RATE_LIMITS, and records results in bulk as they come back. A failure
for good on one channel moves the row to the customer's next preferred channel — the same
row, so the customer still gets one message. A crash leaves rows 'sending'; after the lease
they are sent again, the only way a customer can get a second copy.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError

from .. import locales
from ..clock import utcnow
from ..customers.models import Customer
from ..extensions import db
from ..outbox import budget
from ..outbox.channels import CHANNEL_NAMES, LOOK_FIRST, MARKER, RenderedMessage, SendResult
from ..outbox.dispatch import (
    MAX_ATTEMPTS,
    Claimed,
    channels_for,
    claim,
    retry_wait,
    through_blips,
    unsent,
    write_outcomes,
)
from ..outbox.models import Delivery
from ..vocabulary import BroadcastStatus, Channel, DeliveryStatus
from . import templates
from .models import Broadcast, BroadcastMessage, BroadcastSend
from .service import helpdesk_ticket_of, unsubscribe_url

logger = logging.getLogger(__name__)

EMPTY_PAUSE = 0.5    # s before a channel that had nothing due is asked again within a run
RECORD_EVERY = 0.05  # s: finished sends are recorded at least this often (or per half the threads' worth)
OPTED_OUT = "opted out of this channel after the broadcast was queued"
# A claimed row still unsent when this share of the lease has gone by is left alone: once the lease runs
# out another dispatcher (or this one's next claim) takes it, and both would send it.
LEASE_SHARE = 0.8
LEASE_RAN_OUT = SendResult(ok=False, error="not sent: its lease ran out while it waited", retryable=True)


class Pace:
    """A token bucket: at most `rate` starts a second, in bursts of at most one second's worth."""

    def __init__(self, rate: float, *, now=time.monotonic, sleep=time.sleep):
        self.rate, self._now, self._sleep = rate, now, sleep
        self._next = now() - 1.0 + 1.0 / rate   # start with a second's worth banked
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._now()
            start = max(self._next, now - 1.0 + 1.0 / self.rate)  # unused time banks up to one second
            self._next = start + 1.0 / self.rate
        if start > now:
            self._sleep(start - now)


def fall_back(left: str, fallback: list[str], addresses: dict, send_id: int, locale: str, error: str,
              now) -> dict | None:
    """A message failed for good on one channel: the columns that move its row to the customer's
    next preferred channel that has an address and a message of this send (the same row, so the
    customer still gets one message), or None when no channel is left.

    `left` is the channel it failed on (kept in `fell_back_from`, which later retries leave alone);
    `fallback` is the row's remaining channels, in order; `addresses` maps channel -> address.
    """
    remaining = list(fallback)
    while remaining:
        channel = remaining.pop(0)
        address = addresses.get(channel)
        if not address:
            continue
        rendered = dict(db.session.execute(select(BroadcastMessage.locale, BroadcastMessage.id).where(
            BroadcastMessage.send_id == send_id, BroadcastMessage.channel == channel)).tuples().all())
        message_id = next((rendered[tag] for tag in locales.chain(locale) if tag in rendered), None)
        if message_id is not None:
            return {"status": DeliveryStatus.QUEUED, "channel": channel, "recipient": address, "message_id": message_id,
                    "headers": {"fallback": remaining} if remaining else None, "attempts": 0,
                    "next_attempt_at": now, "provider_id": None, "error": f"{error}; trying {channel}"[:300],
                    "fell_back_from": left}
    return None


def undelivered(delivery_id: int, error: str, now) -> dict | None:
    """A broadcast message the provider accepted and later could not deliver (a Twilio receipt
    saying `undelivered` or `failed`: unknown number, landline, blocked): the columns that move it
    to the customer's next preferred channel, or None (it stays failed) when no channel is left or
    the broadcast has been cancelled."""
    row = db.session.execute(
        select(
            Delivery.channel,
            Delivery.headers,
            Delivery.send_id,
            Broadcast.status.label("broadcast_status"),
            BroadcastMessage.locale,
            Customer.email,
            Customer.phone,
            Customer.slack_channel,
            helpdesk_ticket_of(Delivery.customer_id, Delivery.incident_id).label("ticket"),
        )
        .join(BroadcastSend, BroadcastSend.id == Delivery.send_id)
        .join(Broadcast, Broadcast.id == BroadcastSend.broadcast_id)
        .join(BroadcastMessage, BroadcastMessage.id == Delivery.message_id)
        .outerjoin(Customer, Customer.id == Delivery.customer_id)
        .where(Delivery.id == delivery_id)
    ).first()
    if row is None or row.broadcast_status == BroadcastStatus.CANCELLED:
        return None
    addresses = {Channel.EMAIL: row.email, Channel.SMS: row.phone, Channel.SLACK: row.slack_channel,
                 Channel.TICKET: row.ticket}
    return fall_back(row.channel, (row.headers or {}).get("fallback", []), addresses, row.send_id, row.locale, error,
                     now)


@dataclass
class Job:
    """One claimed row, ready to send."""

    id: int
    channel: str
    recipient: str
    attempts: int
    message: RenderedMessage | None
    fallback: list
    customer: dict
    send_id: int
    locale: str
    skip: str = ""
    claimed: float = 0.0   # when it was claimed, on the sender's monotonic clock


class Sender:
    """One dispatcher's state: its threads, paces and cached messages."""

    def __init__(self, app: Flask, *, threads: int | None = None):
        self.app = app
        self.channels = channels_for(app)
        self.rates = dict(app.config["CHANNEL_RATE_LIMITS"])
        self.paces = {name: Pace(rate) for name, rate in self.rates.items()}
        self.threads = threads or app.config["DISPATCH_THREADS"]
        self.lease = float(app.config["DISPATCH_LEASE_SECONDS"])
        self._elapsed: Callable[[], float] = time.monotonic   # what a claim's age is measured with
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="tocsin-send")
        self._messages: dict[int, tuple[RenderedMessage, str, str, int]] = {}
        self._pause: Callable[[float], object] = time.sleep   # between tries when the database is away

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    # claiming ------------------------------------------------------------------------------

    def _message(self, message_id: int) -> tuple[RenderedMessage, str, str, int]:
        if message_id not in self._messages:
            row = db.session.get_one(BroadcastMessage, message_id)
            headers = {"Content-Language": row.locale} if row.channel == Channel.EMAIL else {}
            self._messages[message_id] = (RenderedMessage(text=row.text, subject=row.subject, html=row.html,
                                                          blocks=row.blocks, headers=headers),
                                          row.channel, row.locale, row.send_id)
        return self._messages[message_id]

    def _claim(self, room: dict[str, int]) -> list[Job]:
        """Claim up to `room` rows per channel and read what sending them needs. If the database drops
        on the way, the rows already claimed are put back at once (dispatch.unsent), not left 'sending'
        for the lease."""
        claims: list[Claimed] = []
        claimed = self._elapsed()
        with unsent(claims):   # filled as the claims are made
            for channel, limit in room.items():
                shared = getattr(self.channels.get(channel), "budget", None)   # (name, per minute): all workers'
                if limit > 0 and shared:
                    granted = budget.take(shared[0], limit, shared[1])
                    got = claim(granted, Delivery.purpose == "broadcast", Delivery.channel == channel) \
                        if granted else Claimed()
                    claims.append(got)
                    budget.give_back(shared[0], granted - len(got), shared[1])
                elif limit > 0:
                    claims.append(claim(limit, Delivery.purpose == "broadcast", Delivery.channel == channel))
            ids = [row_id for made in claims for row_id in made]
            jobs = self._jobs(ids) if ids else []
        for job in jobs:
            job.claimed = claimed
        return jobs

    def _jobs(self, ids: list[int]) -> list[Job]:
        rows = db.session.execute(
            select(
                Delivery.id,
                Delivery.channel,
                Delivery.recipient,
                Delivery.attempts,
                Delivery.message_id,
                Delivery.headers,
                Delivery.customer_id,
                Delivery.send_id,
                Customer.name,
                Customer.email,
                Customer.phone,
                Customer.slack_channel,
                Customer.opted_out,
                helpdesk_ticket_of(Delivery.customer_id, Delivery.incident_id).label("ticket"),
            )
            .outerjoin(Customer, Customer.id == Delivery.customer_id)
            .where(Delivery.id.in_(ids))
        ).all()
        jobs = []
        for row in rows:
            message, _, locale, _ = self._message(row.message_id)
            customer = {"id": row.customer_id, Channel.EMAIL: row.email, Channel.SMS: row.phone,
                        Channel.SLACK: row.slack_channel, Channel.TICKET: row.ticket}
            job = Job(
                row.id,
                row.channel,
                row.recipient,
                row.attempts,
                None,
                list((row.headers or {}).get("fallback", [])),
                customer,
                row.send_id,
                locale,
            )
            if row.channel in (row.opted_out or ()):
                job.skip = OPTED_OUT
            else:
                job.message = templates.personalize(
                    message, name=row.name or "", unsubscribe_url=unsubscribe_url(row.customer_id, row.channel)
                )
                if row.channel == Channel.TICKET:   # the reply's marker: a retry looks for it before replying again
                    job.message = replace(job.message, headers={MARKER: f"tocsin_b{row.id}",
                                                                LOOK_FIRST: "1" if row.attempts > 1 else ""})
            jobs.append(job)
        db.session.rollback()
        return jobs

    # sending -------------------------------------------------------------------------------

    def _send(self, job: Job) -> SendResult:
        self.paces[job.channel].wait()
        if self._elapsed() - job.claimed > self.lease * LEASE_SHARE:   # a very slow queue: never send twice
            return LEASE_RAN_OUT
        try:
            return self.channels[job.channel].send(job.recipient, job.message)
        except Exception as error:  # a channel should not raise; if one does, retry rather than lose it
            logger.exception("channel %s raised", job.channel)
            return SendResult(ok=False, error=type(error).__name__, retryable=True)

    # recording -----------------------------------------------------------------------------

    def record(self, done: list[tuple[Job, SendResult | None]]) -> None:
        """Write the results of finished sends in one transaction — again, on a new connection, when the
        database dropped the one it was on (dispatch.through_blips): sends already made are recorded when
        it is back, not left 'sending' for the lease.

        Only rows still 'sending' are written (a row released after the lease belongs to whoever
        claimed it next), and a broadcast cancelled meanwhile is neither retried nor moved on.
        """
        through_blips(lambda: self._record(done), what="recording broadcast messages sent", sleep=self._pause)

    def _record(self, done: list[tuple[Job, SendResult | None]]) -> None:
        now = utcnow()
        sandbox = {name: getattr(channel, "sandbox", False) for name, channel in self.channels.items()}
        cancelled = self._cancelled_sends({job.send_id for job, _ in done})
        values: list[dict[str, Any]] = []
        late = sum(1 for _, result in done if result is LEASE_RAN_OUT)
        if late:
            logger.warning("%s broadcast messages not sent: their lease ran out while they waited; the "
                           "lease's release sends them", late)
        for job, result in done:
            if result is LEASE_RAN_OUT:
                continue   # still 'sending' under a lease that has (nearly) run out: whoever claims it next sends
            if result is None:
                values.append({"status": DeliveryStatus.SKIPPED, "error": job.skip})
            elif result.ok:
                values.append(
                    {"status": DeliveryStatus.SENT, "provider_id": result.provider_id, "sent_at": now,
                     "sandbox": sandbox[job.channel]}
                )  # error: the history, if any
            elif job.send_id in cancelled:
                values.append({"status": DeliveryStatus.CANCELLED,
                               "error": f"{job.channel}: {result.error}; broadcast cancelled"})
            elif result.retryable and job.attempts < MAX_ATTEMPTS:
                wait_for = retry_wait(job.attempts, result.retry_after)
                values.append({"status": DeliveryStatus.QUEUED, "next_attempt_at": now + wait_for, "error": result.error})
            else:
                values.append(self._failed(job, result, now))
            values[-1]["row_id"], values[-1]["channel_sent_on"] = job.id, job.channel
        write_outcomes(values, now)
        db.session.commit()

    def _cancelled_sends(self, send_ids: set[int]) -> set[int]:
        return set(
            db.session.scalars(
                select(BroadcastSend.id)
                .join(Broadcast, Broadcast.id == BroadcastSend.broadcast_id)
                .where(BroadcastSend.id.in_(send_ids), Broadcast.status == BroadcastStatus.CANCELLED)
            )
        )

    def _failed(self, job: Job, result: SendResult, now) -> dict:
        error = f"{job.channel}: {result.error or 'failed'}"[:300]
        moved = fall_back(job.channel, job.fallback, job.customer, job.send_id, job.locale, error, now)
        if moved is None:
            return {"status": DeliveryStatus.FAILED, "error": error}
        logger.info("delivery %s failed on %s for good; trying %s", job.id, job.channel, moved["channel"])
        return moved

    # the loop --------------------------------------------------------------------------------

    def run(self, *, budget: float = 30.0) -> int:
        """Send until nothing is due (or `budget` seconds pass, then finish what is in flight); rows finished."""
        started, finished = time.monotonic(), 0
        inflight: dict[Future, Job] = {}
        held: dict[str, int] = {name: 0 for name in CHANNEL_NAMES}
        empty_until: dict[str, float] = {}   # a channel with nothing due is asked again only after EMPTY_PAUSE
        pending: list[tuple[Job, SendResult | None]] = []   # finished sends not yet recorded
        last_record = time.monotonic()
        self.channels = channels_for(self.app)
        self._messages.clear()  # rendered messages are cached for one run only
        with self.app.app_context():
            while True:
                jobs = []
                asked_all = False   # this round asked every channel for due rows
                now = time.monotonic()
                if now - started < budget:
                    room: dict[str, int] = {}
                    for name in CHANNEL_NAMES:
                        full = self._room(name)
                        free = full - held[name]
                        # claim in batches (half the room at least), not a row or two each time one finishes
                        worth = free >= max(full // 2, 1) and empty_until.get(name, 0.0) <= now
                        room[name] = free if worth else 0
                    asked_all = all(limit > 0 for limit in room.values())
                    if any(limit > 0 for limit in room.values()):
                        try:
                            jobs = self._claim(room)
                        except (OperationalError, InterfaceError):
                            db.session.remove()
                            if not inflight and not pending:
                                raise   # nothing held: the next tick tries again
                            logger.warning("database unavailable while claiming; finishing the sends in flight")
                            budget = 0   # claim no more this run: record what is in flight, then stop
                        got = {job.channel for job in jobs}
                        for asked, limit in room.items():
                            if limit > 0 and asked not in got:
                                empty_until[asked] = now + EMPTY_PAUSE
                skipped: list[tuple[Job, SendResult | None]] = [(job, None) for job in jobs if job.skip]
                if skipped:
                    self.record(skipped)
                    finished += len(skipped)
                for job in jobs:
                    if not job.skip:
                        inflight[self.pool.submit(self._send, job)] = job
                        held[job.channel] += 1
                if not inflight and not pending:
                    if jobs:
                        continue
                    if asked_all or time.monotonic() - started >= budget:
                        return finished
                    empty_until.clear()   # a channel was skipped as empty a moment ago: ask it once more first
                    continue
                if inflight:
                    wait(list(inflight), timeout=0.1, return_when=FIRST_COMPLETED)
                    time.sleep(0.005)  # let a few more finish, so results are written in batches
                for future in [f for f in inflight if f.done()]:
                    job = inflight.pop(future)
                    held[job.channel] -= 1
                    pending.append((job, future.result()))
                # results are written in batches too: a commit for every few sends costs more than the sends
                if pending and (not inflight or len(pending) >= max(self.threads // 2, 1)
                                or time.monotonic() - last_record >= RECORD_EVERY):
                    self.record(pending)
                    finished += len(pending)
                    pending = []
                    last_record = time.monotonic()

    def _room(self, channel: str) -> int:
        """How many rows of a channel to hold claimed at once: what the threads can start within about two
        seconds at the channel's rate. Never more, so no claimed row waits anywhere near the lease."""
        return max(min(int(self.rates[channel] * 2), self.threads * 2), 1)


def dispatch_broadcasts(app: Flask, *, budget: float = 30.0) -> int:
    """Send due broadcast messages until none is left or `budget` seconds pass (one worker job run)."""
    sender = app.extensions.get("tocsin_sender")
    if sender is None:
        sender = app.extensions["tocsin_sender"] = Sender(app)
    return sender.run(budget=budget)
