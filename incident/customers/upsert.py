"""Bulk upsert of customers: found by external_id, else email; only the fields sent change.

Built for 100,000-customer imports: one SELECT per chunk for what exists, one multi-row INSERT
for what is new, one executemany UPDATE for what changed, and no ORM object per customer.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from .. import locales
from ..catalog import Service, ensure_services
from ..clock import utcnow
from ..errors import Conflict, ValidationFailed
from ..extensions import db
from .models import Customer, customer_services
from .policy import default_channels, missing_addresses
from .schemas import CustomerIn

logger = logging.getLogger(__name__)
CHUNK = 2_000
FIELDS = ("external_id", "name", "email", "phone", "slack_channel", "locale", "segment", "channels")
NEW = {"external_id": None, "name": "", "email": None, "phone": None, "slack_channel": None, "locale": "en",
       "segment": None, "channels": None}


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ids: list[int | None] = field(default_factory=list, repr=False)   # one per item; None: not written
    problems: list[dict] = field(default_factory=list)               # {"index", "field", "message"}

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged, "ids": self.ids}


def _chunks(values: list) -> list[list]:
    return [values[start:start + CHUNK] for start in range(0, len(values), CHUNK)]


def _stored(changes: list[dict]) -> dict[int, dict]:
    """The stored customers an item may name, by external id or by email."""
    found: dict[int, dict] = {}
    columns = [Customer.id, *(getattr(Customer, f) for f in FIELDS)]
    for name in ("external_id", "email"):
        values = sorted({c[name] for c in changes if c.get(name)})
        for chunk in _chunks(values):
            for row in db.session.execute(select(*columns).where(getattr(Customer, name).in_(chunk))):
                found[row.id] = {f: getattr(row, f) for f in FIELDS}
    return found


class _Plan:
    """Applies the items in order to the customers they name, noting each item's problem."""
    def __init__(self, stored: dict[int, dict]):
        self.original = stored
        self.records: dict[int | tuple[str, int], dict] = {key: dict(row, services=None) for key, row in stored.items()}
        self.by = {name: {row[name]: key for key, row in stored.items() if row[name]} for name in ("external_id", "email")}
        self.touched: dict = {}           # key -> indexes of the items that changed it, in order
        self.problems: dict[int, tuple[str, str]] = {}

    def _match(self, index: int, change: dict):
        external_id, email = change.get("external_id"), change.get("email")
        key: int | tuple[str, int] | None = self.by["external_id"].get(external_id) if external_id else None
        if key is None and email and (candidate := self.by["email"].get(email)) is not None:
            holder = self.records[candidate]["external_id"]
            if external_id and holder and holder != external_id:
                self.problems[index] = ("email", f"{email} belongs to the customer with external_id {holder}")
                return None
            key = candidate
        if key is None:
            key = ("new", index)
            self.records[key] = dict(NEW, locale=locales.default_locale(), services=None)
        return key

    def apply(self, index: int, change: dict) -> None:
        key = self._match(index, change)
        if key is None:
            return
        record = self.records[key]
        for name in ("external_id", "email"):
            holder = self.by[name].get(change.get(name), key)
            if change.get(name) and holder != key:
                self.problems[index] = (name, f"{change[name]} belongs to another customer "
                                              f"(id {holder if isinstance(holder, int) else 'new in this batch'})")
                return
        for name in ("external_id", "email"):
            if name in change and change[name] != record[name]:
                if record[name] and self.by[name].get(record[name]) == key:
                    del self.by[name][record[name]]
                if change[name]:
                    self.by[name][change[name]] = key
        record.update(change)
        self.touched.setdefault(key, []).append(index)

    def finish(self) -> None:
        """Fill in default preferences, then check every preferred channel has its address."""
        for key, indexes in self.touched.items():
            record = self.records[key]
            if record["channels"] is None:
                record["channels"] = default_channels(record)
            if problem := missing_addresses(record):
                self.problems[indexes[-1]] = ("channels", problem)

    def good(self) -> dict:
        """The customers to write: those none of whose items had a problem."""
        return {key: indexes for key, indexes in self.touched.items()
                if not any(i in self.problems for i in indexes)}


def _service_ids(names: set[str]) -> dict[str, int]:
    return {service.name: service.id for service in ensure_services(sorted(names))}


def _current_services(customer_ids: list[int]) -> dict[int, set[str]]:
    current: dict[int, set[str]] = {i: set() for i in customer_ids}
    for chunk in _chunks(customer_ids):
        query = (select(customer_services.c.customer_id, Service.name)
                 .join(Service, Service.id == customer_services.c.service_id)
                 .where(customer_services.c.customer_id.in_(chunk)))
        for customer_id, name in db.session.execute(query):
            current[customer_id].add(name)
    return current


def _write(plan: _Plan, good: dict, result: UpsertResult) -> dict:
    now = utcnow()
    connection = db.session.connection()
    new_keys = [k for k in good if isinstance(k, tuple)]
    with_services = [k for k in good if plan.records[k]["services"] is not None]
    current = _current_services([k for k in with_services if isinstance(k, int)])
    services_changed = {k for k in with_services if set(plan.records[k]["services"]) != current.get(k, set())}
    changed = [k for k in good if isinstance(k, int) and (k in services_changed or any(
        plan.records[k][f] != plan.original[k][f] for f in FIELDS))]
    ids = {k: k for k in good if isinstance(k, int)}
    if new_keys:
        statement = insert(Customer).returning(Customer.id, sort_by_parameter_order=True)
        for chunk in _chunks(new_keys):
            rows = [dict({f: plan.records[k][f] for f in FIELDS}, opted_out=[], created_at=now, updated_at=now)
                    for k in chunk]
            ids.update(zip(chunk, connection.execute(statement, rows).scalars().all(), strict=True))
    if changed:
        updating = update(Customer).where(Customer.id == bindparam("_id")).values(
            updated_at=now, **{f: bindparam(f) for f in FIELDS})
        for chunk in _chunks(changed):
            connection.execute(updating, [dict({f: plan.records[k][f] for f in FIELDS}, _id=k) for k in chunk])
    if services_changed:
        service_ids = _service_ids({name for k in services_changed for name in plan.records[k]["services"]})
        for chunk in _chunks([k for k in services_changed if isinstance(k, int)]):
            connection.execute(delete(customer_services).where(customer_services.c.customer_id.in_(chunk)))
        pairs = [{"customer_id": ids[k], "service_id": service_ids[name]}
                 for k in services_changed for name in plan.records[k]["services"]]
        for chunk in _chunks(pairs):
            connection.execute(insert(customer_services), chunk)
    result.created, result.updated = len(new_keys), len(changed)
    result.unchanged = len(good) - len(new_keys) - len(changed)
    return ids


def upsert_customers(items: list[CustomerIn], *, skip_invalid: bool = False, commit: bool = True) -> UpsertResult:
    """Create or update customers, found by external_id, else email; fields left out keep their value.

    Items naming the same customer apply in order. An item in conflict (its email belongs to a
    customer with another external_id) or leaving a preferred channel without its address is a
    problem: the whole batch is refused (ValidationFailed), or with `skip_invalid` those customers
    are left out and listed in `problems`. Opt-outs are never changed here.
    """
    changes = [item.changes() for item in items]
    plan = _Plan(_stored(changes))
    for index, change in enumerate(changes):
        plan.apply(index, change)
    plan.finish()
    result = UpsertResult(problems=[{"index": i, "field": f, "message": m} for i, (f, m) in sorted(plan.problems.items())])
    if result.problems and not skip_invalid:
        raise ValidationFailed(f"{len(result.problems)} of {len(items)} customers are invalid; nothing was written.",
                               details={"items": result.problems[:200], "invalid": len(result.problems)})
    good = plan.good()
    try:
        ids = _write(plan, good, result)
        if commit:
            db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Another request changed some of these customers at the same time; nothing was written. "
                       "Send the batch again.", code="concurrent_change") from None
    by_index = {i: ids[key] for key, indexes in good.items() for i in indexes}
    result.ids = [by_index.get(i) for i in range(len(items))]
    logger.info("upserted %s customers: %s created, %s updated, %s unchanged, %s refused", len(items),
                result.created, result.updated, result.unchanged, len(result.problems))
    return result
