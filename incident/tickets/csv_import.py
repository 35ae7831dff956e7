"""CSV import of a helpdesk export: map the columns, check every row, upsert in chunks, commit once.

Knows nothing of Flask requests: the CLI uses it now, a web upload can later. The file is UTF-8
(a BOM is fine), delimited by ',' or ';'. Times are ISO 8601; a time without an offset
("2026-11-22 09:14:00" or "2026-11-22T09:14:00") is read as UTC, because helpdesks export
naive UTC times.
"""
from __future__ import annotations

import csv
import io
import itertools
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator

from pydantic import ValidationError

from ..api import validation_details
from ..auth.models import User
from ..errors import ValidationFailed
from ..extensions import db
from ..incidents.models import Incident
from ..validation import normalize_slug
from .ingest import ingest_tickets
from .schemas import TicketIn
from .service import apply_link, get_open_incident_or_raise

logger = logging.getLogger(__name__)

# Each field and the header names it is found under by default (compared case-insensitively).
COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": ("id", "ticket id", "ticket_id", "external_id", "#"),
    "source": ("source",),
    "subject": ("subject", "title"),
    "description": ("description", "body", "comment"),
    "requester.name": ("requester", "requester name", "requester_name", "name"),
    "requester.email": ("requester email", "requester_email", "email"),
    "requester.phone": ("requester phone", "requester_phone", "phone"),
    "tags": ("tags",),
    "services": ("services", "service"),
    "priority": ("priority",),
    "status": ("status",),
    "created_at": ("created at", "created_at", "created", "date"),
}
REQUIRED = ("external_id",)
SAMPLE = 1024
WORDS = re.compile(r"[\s,]+")
Row = tuple[int, "TicketIn | None", dict[str, str]]


@dataclass
class CsvImportResult:
    """What an import did: counts of tickets, and the rows it could not take, by line."""

    rows: int = 0                  # data rows read (blank lines not counted)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    linked: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)    # every bad row: (line, reason)
    skipped: list[tuple[int, str]] = field(default_factory=list)   # the bad rows left out (skip mode)
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (line, line that replaced it)
    incident: str | None = None    # the reference tickets were linked to
    written: bool = False          # False when bad rows stopped the import

    @property
    def imported(self) -> int:
        """Rows taken into the database (a row repeating a ticket id counts too)."""
        return self.rows - len(self.errors) if self.written else 0

    def summary(self) -> str:
        """One line for a person: "Imported 10 rows: 10 created, 0 updated, 0 unchanged"."""
        tickets = self.created + self.updated + self.unchanged
        counted = f" ({tickets} tickets)" if tickets != self.imported else ""
        text = (f"Imported {self.imported} rows{counted}: {self.created} created, {self.updated} updated, "
                f"{self.unchanged} unchanged")
        return text + (f", {self.linked} linked to {self.incident}" if self.incident else "")


def field_name(name: str) -> str:
    """A field as the caller may spell it ("requester_email") in its canonical form."""
    canonical = name.strip().lower()
    if canonical.startswith("requester_"):
        canonical = "requester." + canonical[len("requester_"):]
    if canonical not in COLUMNS:
        raise ValidationFailed(f"Unknown field {name!r}; the fields are {', '.join(COLUMNS)}.",
                               code="csv_unknown_field", details={"field": name})
    return canonical


def _header_key(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").strip().lower().split())


def map_columns(header: list[str], column_map: dict[str, str] | None = None, *,
                fields: dict[str, tuple[str, ...]] = COLUMNS, required: tuple[str, ...] = REQUIRED,
                canonical: Callable[[str], str] = field_name) -> dict[str, int]:
    """Which column holds each field: explicit choices first, then the default names.

    `fields`, `required` and `canonical` describe the kind of file (tickets by default; customers too).
    """
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        found.setdefault(_header_key(name), index)  # the first of two same-named columns wins
    listed = ", ".join(f'"{name.strip()}"' for name in header) or "none"
    columns: dict[str, int] = {}
    for name, header_name in (column_map or {}).items():
        key = _header_key(header_name)
        if key not in found:
            raise ValidationFailed(f'No column "{header_name}" (for {canonical(name)}). Columns found: {listed}.',
                                   code="csv_missing_column", details={"columns": header})
        columns[canonical(name)] = found[key]
    for name, aliases in fields.items():
        if name not in columns:
            taken = set(columns.values())
            column = next((found[a] for a in aliases if a in found and found[a] not in taken), None)
            if column is not None:
                columns[name] = column
    for name in required:
        if name not in columns:
            expected = ", ".join(f'"{a}"' for a in fields[name])
            raise ValidationFailed(f"No {name} column: expected one of {expected}. Columns found: {listed}.",
                                   code="csv_missing_column", details={"columns": header, "field": name})
    return columns


def parse_time(value: str) -> datetime:
    """ISO 8601; without an offset the time is taken as UTC. ValueError when unreadable."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date and time: {text!r}; use ISO 8601, e.g. 2026-11-22T09:14:00+00:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _to_ticket(cells: list[str], columns: dict[str, int], default_source: str) -> tuple[TicketIn | None, dict]:
    def cell(name: str) -> str:
        index = columns.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    raw: dict = {"external_id": cell("external_id"), "source": cell("source") or default_source}
    requester = {part: cell(f"requester.{part}") for part in ("name", "email", "phone")}
    raw["requester"] = {part: value for part, value in requester.items() if value}
    for name in ("subject", "description", "priority", "status", "tags", "services", "created_at"):
        if value := cell(name):
            raw[name] = value.lower() if name in ("priority", "status") else value
    for name in ("tags", "services"):
        if name in raw:
            raw[name] = [word for word in WORDS.split(raw[name]) if word]
    problems = {}
    if "created_at" in raw:
        try:
            raw["created_at"] = parse_time(raw["created_at"])
        except ValueError as error:
            problems["created_at"] = str(error)
            del raw["created_at"]
    try:
        item = TicketIn.model_validate(raw)
    except ValidationError as error:
        return None, {**validation_details(error), **problems}
    return (None, problems) if problems else (item, {})


def _text(stream) -> tuple[io.TextIOBase, io.TextIOWrapper | None]:
    """A text view of a binary or text stream; the wrapper, if one was made, to detach later."""
    if isinstance(stream.read(0), bytes):
        wrapper = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        return wrapper, wrapper
    return stream, None


def _delimiter(head: str) -> str:
    """',' or ';': what csv.Sniffer says, unless the header line plainly disagrees; else ','."""
    try:
        delimiter = csv.Sniffer().sniff(head, delimiters=",;").delimiter
    except csv.Error:
        delimiter = ","
    first_line = head.splitlines()[0] if head else ""
    other = ";" if delimiter == "," else ","
    return other if delimiter not in first_line and other in first_line else delimiter


def _lines(text) -> tuple[str, Iterable[str]]:
    head = text.read(SAMPLE)
    if head and not head.endswith("\n"):
        head += text.readline()  # finish the line the sample cut
    head = head.removeprefix("\ufeff")
    return _delimiter(head), itertools.chain(io.StringIO(head, newline=""), text)


def read_rows(stream, *, column_map: dict[str, str] | None = None, default_source: str = "csv") -> Iterator[Row]:
    """Yield (line, ticket or None, {field: problem}) per data row; line as an editor shows it.

    A file-level problem (not UTF-8, no ticket id column, unreadable CSV) raises
    ValidationFailed before the first row is yielded, or at the row where it is found.
    """
    try:
        default_source = normalize_slug(default_source)
    except ValueError as error:
        raise ValidationFailed(f"Source {default_source!r}: {error}.", code="invalid_source") from None
    for line, cells, columns in read_table(stream, lambda header: map_columns(header, column_map)):
        if cells is None:
            yield line, None, columns
        else:
            yield (line, *_to_ticket(cells, columns, default_source))


def read_table(stream, map_header: Callable[[list[str]], dict[str, int]]) -> Iterator[tuple[int, list | None, dict]]:
    """Yield (line, cells, {field: column}) per non-blank data row, or (line, None, {"row": problem}).

    `map_header` turns the header into the field columns (or raises ValidationFailed). A file-level
    problem (not UTF-8, no header, unreadable CSV) raises ValidationFailed.
    """
    text, wrapper = _text(stream)
    reader = None
    try:
        delimiter, lines = _lines(text)
        reader = csv.reader(lines, delimiter=delimiter)
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise ValidationFailed("The file is empty: no header line.", code="csv_empty")
        columns = map_header(header)
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(header) and any(cell.strip() for cell in cells[len(header):]):
                yield line, None, {"row": f"{len(cells)} cells but the header has {len(header)}; check the quoting"}
                continue
            yield line, cells, columns
    except UnicodeDecodeError:
        raise ValidationFailed("The file is not UTF-8 text. Save it as \"CSV UTF-8\" and try again.",
                               code="csv_not_utf8") from None
    except csv.Error as error:
        line = reader.line_num if reader is not None else 0
        raise ValidationFailed(f"Unreadable CSV after line {line}: {error}.", code="csv_unreadable",
                               details={"line": line}) from None
    finally:
        if wrapper is not None:
            wrapper.detach()  # leave the caller's stream open


def _reason(problems: dict[str, str]) -> str:
    return "; ".join(f"{name}: {message}" for name, message in problems.items())


def _check(stream, result: CsvImportResult, **options) -> list[TicketIn]:
    """Read the whole file: note bad rows, and keep the last row of each ticket."""
    latest: dict[tuple[str, str], tuple[int, TicketIn]] = {}
    for line, item, problems in read_rows(stream, **options):
        result.rows += 1
        if item is None:
            result.errors.append((line, _reason(problems)))
            continue
        key = (item.source, item.external_id)
        if key in latest:
            result.duplicates.append((latest[key][0], line))
        latest[key] = (line, item)
    return [item for _, item in latest.values()]


def import_csv(stream, *, actor: User | None, incident: Incident | int | str | None = None,
               on_error: str = "abort", column_map: dict[str, str] | None = None, default_source: str = "csv",
               chunk_size: int = 5000, progress: Callable[[int, int], None] | None = None) -> CsvImportResult:
    """Import a helpdesk CSV export in one transaction: all rows or none ("abort"), or the good ones ("skip")."""
    if on_error not in ("abort", "skip"):
        raise ValueError(f"on_error must be 'abort' or 'skip', not {on_error!r}")
    target = None
    if incident is not None:
        target = get_open_incident_or_raise(incident.id if isinstance(incident, Incident) else incident)
    result = CsvImportResult(incident=target.reference if target else None)
    items = _check(stream, result, column_map=column_map, default_source=default_source)
    if result.errors and on_error == "abort":
        logger.info("CSV import stopped: %s bad rows of %s", len(result.errors), result.rows)
        return result
    result.skipped = list(result.errors)
    try:
        ticket_ids: list[int] = []
        for start in range(0, len(items), chunk_size):
            done = ingest_tickets(actor, items[start:start + chunk_size], apply_rules=target is None, commit=False)
            result.created += done.created
            result.updated += done.updated
            result.unchanged += done.unchanged
            result.linked += done.linked
            ticket_ids += done.ticket_ids
            if progress is not None:
                progress(min(start + chunk_size, len(items)), len(items))
        if target is not None:  # one link action, one timeline event, for the whole file
            result.linked = apply_link(target, actor, ticket_ids=ticket_ids, method="import",
                                       criteria={"import": result.rows}, only_unlinked=True)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    result.written = True
    logger.info("CSV import: %s rows, %s created, %s updated, %s unchanged, %s linked, %s skipped",
                result.rows, result.created, result.updated, result.unchanged, result.linked, len(result.skipped))
    return result
