"""Helpdesk tickets coming in: from the webhook, the incremental export and the backfill, each
upserted exactly as `POST /api/v1/tickets` does (link rules, trigger words, the flood detector).

The same ticket from the webhook and from the export is one ticket: both key it on
(source `zendesk`, the helpdesk's id).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flask import Flask, current_app
from pydantic import ValidationError
from sqlalchemy import select, update

from ..clock import utcnow
from ..customers.models import Customer
from ..errors import ValidationFailed
from ..extensions import db
from ..locales import is_valid, parse_tag
from ..outbox import budget
from ..tickets.ingest import IngestResult, ingest_tickets
from ..tickets.models import Ticket
from ..tickets.schemas import TicketIn
from ..uow import unit_of_work
from .connector import HelpdeskError, RemoteTicket
from .models import HelpdeskCursor
from .sync import BUDGET, SOURCE, helpdesk_for

logger = logging.getLogger(__name__)
EXPORT_PAGES_PER_RUN = 20
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")   # Zendesk's, as a trigger may capitalise them


def check_brand(ticket: RemoteTicket) -> None:
    brands = current_app.config["ZENDESK_BRAND_IDS"]
    if brands and ticket.brand_id not in brands:
        raise ValidationFailed(f"Ticket {ticket.id} belongs to brand {ticket.brand_id}, which Tocsin does not take.",
                               details={"brand_id": ticket.brand_id}, code="unknown_brand")


def to_ticket_in(ticket: RemoteTicket) -> TicketIn:
    """The batch API's ticket for a helpdesk ticket; a requester phone Tocsin cannot read is left out
    rather than refusing the ticket. `ValidationFailed` names what is wrong."""
    data = {"external_id": ticket.id, "source": SOURCE, "subject": ticket.subject[:500],
            "description": ticket.description[:100_000], "tags": list(dict.fromkeys(ticket.tags))[:100],
            "status": status if (status := ticket.status.strip().lower()) in STATUSES else "open",
            "requester": {"name": ticket.requester.name[:200], "email": ticket.requester.email,
                          "phone": ticket.requester.phone},
            "created_at": ticket.created_at}
    try:
        return TicketIn.model_validate(data)
    except ValidationError as error:
        fields = {".".join(str(p) for p in e["loc"]) for e in error.errors()}
        if fields <= {"requester.phone", "requester.email"}:
            return TicketIn.model_validate({**data, "requester": {
                "name": ticket.requester.name[:200],
                **({} if "requester.email" in fields else {"email": ticket.requester.email})}})
        raise ValidationFailed(f"Ticket {ticket.id} cannot be taken: {', '.join(sorted(fields))}.",
                               details={f: "invalid" for f in fields}, code="invalid_ticket") from None


def ingest_remote(tickets: list[RemoteTicket], *, skip_invalid: bool = False) -> IngestResult:
    """Upsert helpdesk tickets (no commit: the caller's unit of work), and take on the requesters'
    language where Tocsin has it. Invalid ones raise, or are skipped and logged with `skip_invalid`."""
    items, locales = [], {}
    for ticket in tickets:
        try:
            check_brand(ticket)
            items.append(to_ticket_in(ticket))
        except ValidationFailed as error:
            if not skip_invalid:
                raise
            logger.warning("helpdesk ticket skipped: %s", error)
            continue
        if ticket.requester.locale and is_valid(ticket.requester.locale):
            locales[ticket.id] = parse_tag(ticket.requester.locale)
    result = ingest_tickets(None, items, commit=False) if items else IngestResult()
    for locale in set(locales.values()):
        ids = [i for i, loc in locales.items() if loc == locale]
        customers = select(Ticket.customer_id).where(Ticket.source == SOURCE, Ticket.external_id.in_(ids))
        db.session.execute(update(Customer).where(Customer.id.in_(customers), Customer.locale != locale)
                           .values(locale=locale, updated_at=utcnow()).execution_options(synchronize_session=False))
    return result


def follow_export(app: Flask, *, pages: int = EXPORT_PAGES_PER_RUN, name: str = SOURCE,
                  start: datetime | None = None, progress: Callable[[int, IngestResult], None] | None = None,
                  wait: Callable[[float], None] | None = None) -> int:
    """Read the helpdesk's incremental export from the saved cursor (or `start`, else now) and upsert
    what changed, page by page, saving the cursor with each page; how many tickets were read.

    Each page takes one request from the shared budget; with none left it stops (the worker comes
    back next run) or, given `wait`, waits for one (the backfill)."""
    helpdesk = helpdesk_for(app)
    per_minute = app.config["ZENDESK_REQUESTS_PER_MINUTE"]
    seen = 0
    with app.app_context():
        state = db.session.get(HelpdeskCursor, name)
        if state is None:
            state = HelpdeskCursor(name=name, cursor=None, tickets=0)
            db.session.add(state)
            db.session.commit()
        for _ in range(pages):
            if not helpdesk.sandbox and not budget.take(BUDGET, 1, per_minute):
                if wait is None:
                    break
                wait(budget.wait_seconds(per_minute))
                continue
            state = db.session.get_one(HelpdeskCursor, name)
            try:
                page = helpdesk.changes_since(state.cursor, start or (None if state.cursor else utcnow()))
            except HelpdeskError as error:
                db.session.rollback()
                if wait is not None and error.retryable:
                    wait(error.retry_after or budget.wait_seconds(per_minute))
                    continue
                logger.warning("helpdesk export stopped: %s", error)
                break
            with unit_of_work():
                result = ingest_remote(page.tickets, skip_invalid=True)
                state = db.session.get_one(HelpdeskCursor, name)
                state.cursor, state.polled_at = page.cursor, utcnow()
                state.tickets += len(page.tickets)
            seen += len(page.tickets)
            if progress is not None:
                progress(seen, result)
            if page.end:
                break
    return seen


def export_due(app: Flask) -> None:
    """The worker's export step: only with a real helpdesk (the sandbox has nothing to export)."""
    if not helpdesk_for(app).sandbox:
        follow_export(app)
