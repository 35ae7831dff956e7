"""Customer use cases: requesters of ingested tickets become customers (in bulk), reading and editing
one customer, opting out and back in. The bulk upsert of the API and CSV import is in upsert.py."""
from __future__ import annotations

import json
import logging
from typing import Any, Iterable

from sqlalchemy import String, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import selectinload

from .. import locales
from ..auth.models import User
from ..catalog import Service, ensure_services
from ..clock import utcnow
from ..dbutil import dialect, driver_processors, insert_by_copy, insert_returning_sqlite
from ..errors import Conflict, NotAllowed, NotFound, ValidationFailed
from ..extensions import db
from ..uow import use_case
from ..validation import normalize_phone
from .models import CHANNELS, Customer, OptOutChange, customer_services
from .policy import default_channels, missing_addresses

logger = logging.getLogger(__name__)

CHUNK = 5_000


def _lookup(column, values: list[str]) -> dict[str, int]:
    if values and dialect() == "postgresql":
        # One array parameter: an IN list of 5,000 values costs psycopg and PostgreSQL far more (0.4 s for 10,000).
        wanted = bindparam("values", values, type_=postgresql.ARRAY(String))
        return dict(db.session.execute(select(column, Customer.id).where(column == any_(wanted))).tuples().all())
    found: dict[str, int] = {}
    for start in range(0, len(values), CHUNK):
        chunk = values[start:start + CHUNK]
        found.update(db.session.execute(select(column, Customer.id).where(column.in_(chunk))).tuples().all())
    return found


def ensure_requesters(requesters: list[tuple[str, str | None, str | None]]) -> list[int | None]:
    """Customer ids for (name, email, phone) requesters, matched by email, else phone; missing ones
    are created. One id per input (None when there is neither email nor phone). Flush, no commit."""
    emails = sorted({e for _, e, _ in requesters if e})
    phones = sorted({p for _, e, p in requesters if p and not e})
    by_email = _lookup(Customer.email, emails)
    by_phone = _lookup(Customer.phone, phones)
    now = utcnow()
    new_rows: list[dict[str, Any]]
    new_rows, seen = [], set()
    for name, email, phone in requesters:
        key = email or phone
        if not key or key in seen or (email and email in by_email) or (not email and phone in by_phone):
            continue
        seen.add(key)
        # a requester is answered on their own helpdesk ticket where a broadcast allows it, else by email or SMS
        new_rows.append({"name": name or "", "email": email, "phone": phone, "locale": locales.default_locale(),
                         "channels": ["ticket", "email"] if email else ["ticket", "sms"], "opted_out": [],
                         "created_at": now, "updated_at": now})
    with_email = [r for r in new_rows if r["email"]]
    if with_email:  # a concurrent batch may add the same address: keep theirs, and look it up
        by_email.update(_insert_customers(with_email, unique="email"))
        by_email.update(_lookup(Customer.email, [r["email"] for r in with_email if r["email"] not in by_email]))
    without = [r for r in new_rows if not r["email"]]
    if without:
        by_phone.update(_insert_customers(without, unique=None))
        by_phone.update(_lookup(Customer.phone, [r["phone"] for r in without if r["phone"] not in by_phone]))
    return [by_email.get(e) if e else by_phone.get(p) if p else None for _, e, p in requesters]


def _insert_customers(rows: list[dict[str, Any]], *, unique: str | None) -> dict[str, int]:
    """New customers' rows inserted; {email (unique="email") or phone: id} of those this call inserted.
    Rows already there for an email are skipped (ON CONFLICT DO NOTHING), a phone is never unique."""
    table, key = Customer.__table__, unique or "phone"
    columns = ["name", "email", "phone", "locale", "channels", "opted_out", "created_at", "updated_at"]
    if dialect() == "postgresql":
        # COPY, not an executemany of dicts: SQLAlchemy renders that as multi-row VALUES SQL, built in
        # Python and parsed by psycopg in Python, 0.9 s for 10,000 customers.
        dumped: dict[tuple, str] = {}   # JSON as SQLAlchemy's JSON type writes it (json.dumps), once a value

        def as_json(value: list) -> str:
            return dumped.get(tuple(value)) or dumped.setdefault(tuple(value), json.dumps(value))

        inserted = insert_by_copy(table, columns, (
            tuple(as_json(r[c]) if c in ("channels", "opted_out") else r[c] for c in columns) for r in rows),
            conflict=[unique] if unique else (), returning=["id", key])
        return {value: customer_id for customer_id, value in inserted}
    # SQLite: the values converted by the column types' own processors (JSON text, timestamps), the
    # same for every row but the channels, so each converted once; one multi-row INSERT … RETURNING a chunk.
    process = driver_processors(table, columns)
    once = {c: process[c](rows[0][c]) for c in ("opted_out", "created_at", "updated_at")}
    channels = {kind: process["channels"](list(kind)) for kind in {tuple(r["channels"]) for r in rows}}
    values = [tuple(channels[tuple(r[c])] if c == "channels" else once[c] if c in once else r[c] for c in columns)
              for r in rows]
    inserted = insert_returning_sqlite(table, columns, values, conflict=[unique] if unique else (),
                                       returning=["id", key])
    return {value: customer_id for customer_id, value in inserted}


# Reading and editing one customer --------------------------------------------------------------

class CustomerNotFound(NotFound):
    def __init__(self, customer_id):
        super().__init__(f"No customer {customer_id}.", code="customer_not_found")


def get_customer_or_raise(customer_id: int, *, lock: bool = False) -> Customer:
    """The customer, with their services; CustomerNotFound otherwise. `lock`: the row is held
    until commit (PostgreSQL), so an SMS STOP arriving meanwhile waits instead of being overwritten."""
    customer = db.session.get(Customer, customer_id, options=[selectinload(Customer.services)],
                              with_for_update=lock or None)
    if customer is None:
        raise CustomerNotFound(customer_id)
    return customer


def list_customers(*, segment: str | None = None, service: str | None = None, email: str | None = None,
                   page: int = 1, per_page: int = 50) -> tuple[list[Customer], int]:
    """Customers in id order, filtered by segment, subscribed service or email; and how many match."""
    query = select(Customer)
    if segment:
        query = query.where(Customer.segment == segment)
    if email:
        query = query.where(Customer.email == email)
    if service:
        query = query.where(Customer.id.in_(
            select(customer_services.c.customer_id).join(Service, Service.id == customer_services.c.service_id)
            .where(Service.name == service)))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.options(selectinload(Customer.services)).order_by(Customer.id)
                              .offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), total


def _check_unique(customer: Customer, name: str, value: str | None) -> None:
    if value and db.session.scalar(select(Customer.id).where(getattr(Customer, name) == value,
                                                             Customer.id != customer.id)) is not None:
        raise Conflict(f"Another customer already has {name} {value}.", code=f"{name}_taken",
                       details={name: value})


def _check_opt_in_by_staff(actor: User | None, customer: Customer, wanted: list[str]) -> None:
    """Staff may record an opt-out, but lifting one is the customer's call: an SMS opt-out only by
    the customer texting START (carriers and Twilio enforce it), an email or Slack one only by a
    lead acting on the customer's request, never by an agent."""
    lifted = set(customer.opted_out or []) - set(wanted)
    if "sms" in lifted:
        raise Conflict("Only the customer can lift an SMS opt-out, by texting START to our number.",
                       code="opt_in_by_customer", details={"opted_out": "sms stays opted out"})
    if lifted and not (actor and actor.can("lead")):
        raise NotAllowed("Lifting a customer's opt-out needs the lead permission: do it only when the "
                         "customer asks.", details={"opted_out": sorted(lifted)})
    if lifted:
        assert actor is not None  # lifting needs a lead, checked above
        logger.info("customer %s opted back in to %s by %s", customer.id, sorted(lifted), actor.email)


@use_case(conflict=("Another request changed this customer's email or external id at the same time.",
                   "concurrent_change"))
def update_customer(actor: User | None, customer_id: int, changes: dict) -> Customer:
    """Change a customer's details, preferences (channels), subscriptions or opt-outs; only what is given."""
    customer = get_customer_or_raise(customer_id, lock=True)
    if "opted_out" in changes:
        _check_opt_in_by_staff(actor, customer, changes["opted_out"])
        before, after = set(customer.opted_out or []), set(changes["opted_out"])
        record_opt_out_changes([(customer.id, c, True) for c in sorted(after - before)]
                               + [(customer.id, c, False) for c in sorted(before - after)],
                               "staff", actor.email if actor else None)
    for name in ("external_id", "email"):
        if name in changes and changes[name] != getattr(customer, name):
            _check_unique(customer, name, changes[name])
    for name, value in changes.items():
        if name == "services":
            customer.services = ensure_services(value)
        elif name != "channels":
            setattr(customer, name, value)
    record = {name: getattr(customer, name) for name in ("email", "phone", "slack_channel")}
    if "channels" in changes:
        customer.channels = default_channels(record) if changes["channels"] is None else changes["channels"]
    if problem := missing_addresses({**record, "channels": customer.channels}):
        raise ValidationFailed(f"Preferred channels without an address: {problem}.", details={"channels": problem})
    customer.updated_at = utcnow()   # another request taking the email or external id meanwhile: a conflict
    logger.info("customer %s updated by %s: %s", customer.id, actor.email if actor else "system", sorted(changes))
    return customer


# Opting out and back in --------------------------------------------------------------------------

def _customer_ids(who: int | str | Iterable[int]) -> list[int]:
    if isinstance(who, str):  # a phone number: every customer who has it
        try:
            phone = normalize_phone(who)
        except ValueError:
            return []
        return list(db.session.scalars(select(Customer.id).where(Customer.phone == phone)))
    return [who] if isinstance(who, int) else sorted(set(who))


OPT_OUT_HOW = ("sms_keyword", "unsubscribe_link", "subscription_page", "staff", "status_signup")


def record_opt_out_changes(changes: list[tuple[int, str, bool]], how: str, by: str | None = None) -> None:
    """The history of opt-outs: (customer id, channel, opted out) taken or lifted just now (no commit)."""
    assert how in OPT_OUT_HOW
    if changes:
        now = utcnow()
        db.session.execute(insert(OptOutChange), [
            {"customer_id": cid, "channel": channel, "opted_out": out, "how": how, "by": by, "at": now}
            for cid, channel, out in changes])


def opt_out_history(customer_id: int, limit: int = 100) -> list[OptOutChange]:
    """The customer's opt-outs taken and lifted, newest first."""
    return list(db.session.scalars(select(OptOutChange).where(OptOutChange.customer_id == customer_id)
                                   .order_by(OptOutChange.at.desc(), OptOutChange.id.desc()).limit(limit)))


@use_case
def _set_opt_out(who, channel: str, *, out: bool, how: str) -> list[int]:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; use {', '.join(CHANNELS)}")
    now, changed = utcnow(), []
    for start in range(0, len(ids := _customer_ids(who)), CHUNK):
        rows = db.session.execute(select(Customer.id, Customer.opted_out)  # held till commit: no lost STOP
                                  .where(Customer.id.in_(ids[start:start + CHUNK])).order_by(Customer.id)
                                  .with_for_update()).all()
        for customer_id, opted_out in rows:
            current = list(opted_out or [])
            wanted = sorted(set(current) | {channel}) if out else [c for c in current if c != channel]
            if wanted != current:
                changed.append({"_id": customer_id, "opted_out": wanted})
    if changed:
        db.session.connection().execute(update(Customer).where(Customer.id == bindparam("_id"))
                                        .values(opted_out=bindparam("opted_out"), updated_at=now), changed)
        record_opt_out_changes([(row["_id"], channel, out) for row in changed], how)
    return [row["_id"] for row in changed]


def opt_out(who: int | str | Iterable[int], channel: str, *, how: str) -> list[int]:
    """Take customers (an id, ids, or every customer with a phone number) off a channel; the ids changed."""
    changed = _set_opt_out(who, channel, out=True, how=how)
    logger.info("opted out of %s: %s customers", channel, len(changed))
    return changed


def opt_in(who: int | str | Iterable[int], channel: str, *, how: str) -> list[int]:
    """Put customers back on a channel they had opted out of (SMS START); the ids changed."""
    changed = _set_opt_out(who, channel, out=False, how=how)
    logger.info("opted back in to %s: %s customers", channel, len(changed))
    return changed
