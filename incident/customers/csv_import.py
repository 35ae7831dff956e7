"""CSV import of customers (a CRM export): map the columns, check every row, upsert in chunks, commit once.

Reads files as the ticket import does (UTF-8 with or without a BOM, ',' or ';', line numbers as an
editor shows them). An empty cell leaves the stored value as it is; `channels` and `services` are
lists separated by spaces, commas, ';' or '|'. Rows naming the same customer apply in file order.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Callable, Iterator

from pydantic import ValidationError

from ..api import validation_details
from ..errors import ValidationFailed
from ..extensions import db
from ..tickets.csv_import import map_columns, read_table
from .schemas import CustomerIn
from .upsert import upsert_customers

logger = logging.getLogger(__name__)

# Each field and the header names it is found under by default (compared case-insensitively).
COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": ("external_id", "external id", "id", "customer id", "customer_id", "account id", "#"),
    "name": ("name", "customer", "company", "customer name", "full name"),
    "email": ("email", "e-mail", "email address", "mail"),
    "phone": ("phone", "mobile", "phone number", "telephone", "sms"),
    "slack_channel": ("slack_channel", "slack channel", "slack"),
    "locale": ("locale", "language", "lang"),
    "segment": ("segment", "tier", "plan"),
    "channels": ("channels", "preferred channels", "channel"),
    "services": ("services", "service", "subscriptions"),
}
LISTS = re.compile(r"[\s,;|]+")
Row = tuple[int, "CustomerIn | None", dict[str, str]]


@dataclass
class CsvImportResult:
    """What an import did: counts of customers, and the rows it could not take, by line."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)    # every bad row: (line, reason)
    skipped: list[tuple[int, str]] = field(default_factory=list)   # the bad rows left out (skip mode)
    written: bool = False                                          # False when bad rows stopped the import

    @property
    def imported(self) -> int:
        return self.rows - len(self.errors) if self.written else 0

    def summary(self) -> str:
        """One line for a person: "Imported 10 rows: 8 created, 1 updated, 1 unchanged"."""
        return (f"Imported {self.imported} rows: {self.created} created, {self.updated} updated, "
                f"{self.unchanged} unchanged")


def field_name(name: str) -> str:
    """A field as the caller may spell it ("Slack-Channel") in its canonical form."""
    canonical = name.strip().lower().replace("-", "_").replace(" ", "_")
    if canonical not in COLUMNS:
        raise ValidationFailed(f"Unknown field {name!r}; the fields are {', '.join(COLUMNS)}.",
                               code="csv_unknown_field", details={"field": name})
    return canonical


def _map_header(header: list[str], column_map: dict[str, str] | None) -> dict[str, int]:
    columns = map_columns(header, column_map, fields=COLUMNS, required=(), canonical=field_name)
    if "external_id" not in columns and "email" not in columns:
        listed = ", ".join(f'"{name.strip()}"' for name in header) or "none"
        raise ValidationFailed(f"No external_id or email column: one of them identifies each customer. "
                               f"Columns found: {listed}.", code="csv_missing_column",
                               details={"columns": header, "field": "external_id"})
    return columns


def _to_customer(cells: list[str], columns: dict[str, int]) -> tuple[CustomerIn | None, dict]:
    raw: dict = {}
    for name, index in columns.items():
        value = cells[index].strip() if index < len(cells) else ""
        if value:
            raw[name] = [w for w in LISTS.split(value.lower()) if w] if name in ("channels", "services") else value
    try:
        return CustomerIn.model_validate(raw), {}
    except ValidationError as error:
        return None, validation_details(error)


def read_rows(stream, *, column_map: dict[str, str] | None = None) -> Iterator[Row]:
    """Yield (line, customer or None, {field: problem}) per data row; file problems raise ValidationFailed."""
    for line, cells, columns in read_table(stream, lambda header: _map_header(header, column_map)):
        yield (line, None, columns) if cells is None else (line, *_to_customer(cells, columns))


def _reason(problems: dict[str, str]) -> str:
    return "; ".join(f"{name}: {message}" for name, message in problems.items())


@dataclass(frozen=True)
class Progress:
    """How far an import has come: `stage` "checked" (rows read and validated so far; total
    unknown until the file ends) or "written" (`done` of `total` good rows upserted)."""

    stage: str
    done: int
    total: int | None = None


def import_steps(stream, *, on_error: str = "abort", column_map: dict[str, str] | None = None,
                 chunk_size: int = 5000) -> Iterator["Progress | CsvImportResult"]:
    """import_csv one step at a time: Progress as it goes (every `chunk_size` rows read, every chunk
    written), then the CsvImportResult last. A file-level problem raises at the first step."""
    if on_error not in ("abort", "skip"):
        raise ValueError(f"on_error must be 'abort' or 'skip', not {on_error!r}")
    result = CsvImportResult()
    rows: list[tuple[int, CustomerIn]] = []
    for line, item, problems in read_rows(stream, column_map=column_map):
        result.rows += 1
        if item is None:
            result.errors.append((line, _reason(problems)))
        else:
            rows.append((line, item))
        if result.rows % chunk_size == 0:
            yield Progress("checked", result.rows)
    yield Progress("checked", result.rows, result.rows)
    if result.errors and on_error == "abort":
        logger.info("customer CSV import stopped: %s bad rows of %s", len(result.errors), result.rows)
        yield result
        return
    try:
        for start in range(0, len(rows), chunk_size):
            chunk = rows[start:start + chunk_size]
            done = upsert_customers([item for _, item in chunk], skip_invalid=True, commit=False)
            result.errors += [(chunk[p["index"]][0], f"{p['field']}: {p['message']}") for p in done.problems]
            result.created += done.created
            result.updated += done.updated
            result.unchanged += done.unchanged
            yield Progress("written", min(start + chunk_size, len(rows)), len(rows))
        result.errors.sort()
        if result.errors and on_error == "abort":  # conflicts only show against the database
            db.session.rollback()
            result.created = result.updated = result.unchanged = 0
            yield result
            return
        db.session.commit()
    except BaseException:  # GeneratorExit too: a reader that stops half way writes nothing
        db.session.rollback()
        raise
    result.skipped = list(result.errors)
    result.written = True
    logger.info("customer CSV import: %s rows, %s created, %s updated, %s unchanged, %s skipped",
                result.rows, result.created, result.updated, result.unchanged, len(result.skipped))
    yield result


def import_csv(stream, *, on_error: str = "abort", column_map: dict[str, str] | None = None,
               chunk_size: int = 5000, progress: Callable[[int, int], None] | None = None) -> CsvImportResult:
    """Import customers from a CSV in one transaction: all rows or none ("abort"), or the good ones ("skip")."""
    for step in import_steps(stream, on_error=on_error, column_map=column_map, chunk_size=chunk_size):
        if isinstance(step, CsvImportResult):
            return step
        if progress is not None and step.stage == "written" and step.total is not None:
            progress(step.done, step.total)
    raise AssertionError("import_steps ends with its result")  # pragma: no cover
