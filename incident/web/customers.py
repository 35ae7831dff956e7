"""Staff pages for customers: search, one customer with their tickets, incidents, messages and
opt-outs, editing their preferences (leads), and a CSV import whose progress streams to the page."""
from __future__ import annotations

import re
import shutil
import tempfile
from typing import IO, Generator, Iterator

from flask import Response, flash, g, get_flashed_messages, redirect, render_template, request, stream_template, url_for

from ..auth.access import login_required
from ..catalog import Service
from ..customers import service as customers
from ..customers.csv_import import CsvImportResult, Progress, import_steps
from ..customers.models import CHANNELS, Customer
from ..customers.schemas import CustomerPatch
from ..customers.search import CustomerSearch, list_segments, search_customers
from ..errors import AppError
from ..extensions import db
from ..security import body_limit
from .blueprint import bp
from .customer_views import customer_incidents, customer_messages, customer_tickets
from .forms import flash_error, parse_form
from .masking import may_see_contacts, shown_address

PER_PAGE = 50
LISTS = re.compile(r"[\s,;|]+")
CONTACT_FIELDS = ("name", "external_id", "email", "phone", "slack_channel", "locale", "segment")


@bp.get("/customers")
@login_required()
def customers_page():
    """Search customers by name, email, phone or external id, and by segment or service."""
    search = CustomerSearch(text=request.args.get("q", "").strip()[:200],
                            segment=request.args.get("segment", "").strip()[:40],
                            service=request.args.get("service", "").strip()[:63])
    after = max(0, request.args.get("after", 0, type=int) or 0)
    rows, next_after = search_customers(search, after=after, per_page=PER_PAGE)
    reveal = may_see_contacts(g.user)
    shown = [{"customer": c, "email": shown_address("email", c.email, reveal=reveal),
              "phone": shown_address("sms", c.phone, reveal=reveal)} for c in rows]
    args = {k: v for k, v in (("q", search.text), ("segment", search.segment), ("service", search.service)) if v}
    return render_template("customers.html", rows=shown, search=search, args=args, after=after,
                           next_after=next_after, segments=list_segments(),
                           services=db.session.scalars(db.select(Service.name).order_by(Service.name)).all())


def _detail(customer: Customer, *, values: dict | None = None, errors: dict | None = None, status: int = 200):
    reveal = may_see_contacts(g.user)
    tickets, ticket_total, ticket_incidents = customer_tickets(customer.id)
    messages, message_total = customer_messages(customer.id, reveal=reveal)
    stored = {**{f: getattr(customer, f) or "" for f in CONTACT_FIELDS},
              "channels": list(customer.channels or []), "opted_out": list(customer.opted_out or []),
              "services": ", ".join(s.name for s in customer.services)}
    return render_template(
        "customer.html", customer=customer, reveal=reveal, tickets=tickets, ticket_total=ticket_total,
        ticket_incidents=ticket_incidents,
        incidents=customer_incidents(customer), messages=messages, message_total=message_total,
        email=shown_address("email", customer.email, reveal=reveal),
        phone=shown_address("sms", customer.phone, reveal=reveal),
        values=values or stored, errors=errors or {}, channels=CHANNELS,
        opt_out_history=customers.opt_out_history(customer.id), opt_out_how=OPT_OUT_LABELS,
    ), status


OPT_OUT_LABELS = {"sms_keyword": "texted STOP/START", "unsubscribe_link": "an unsubscribe link",
                  "subscription_page": "their subscription page",
                  "staff": "staff", "status_signup": "signed up on the status page"}


@bp.get("/customers/<int:customer_id>")
@login_required()
def customer_page(customer_id):
    return _detail(customers.get_customer_or_raise(customer_id))


def _form_values(form) -> dict:
    """The edit form as typed (to show it again on an error)."""
    values = {f: form.get(f, "").strip() for f in CONTACT_FIELDS}
    values["channels"] = [c for c in form.getlist("channels") if c]
    values["opted_out"] = form.getlist("opted_out")
    values["services"] = form.get("services", "")
    return values


def _changes(values: dict) -> dict:
    """The form's values as a CustomerPatch checks them: an empty field clears it; no channel
    chosen means every channel they have an address for."""
    data: dict = {f: values[f] or None for f in CONTACT_FIELDS}
    data["name"] = values["name"]
    data["channels"] = values["channels"] or None
    data["opted_out"] = values["opted_out"]
    data["services"] = [s for s in LISTS.split(values["services"].lower()) if s]
    return parse_form(CustomerPatch, data).changes()  # type: ignore[attr-defined]


@bp.post("/customers/<int:customer_id>")
@login_required("lead")
def edit_customer(customer_id):
    """Change a customer's details, preferences, opt-outs and services: all of it, or on any problem none."""
    values = _form_values(request.form)
    try:
        customer = customers.update_customer(g.user, customer_id, _changes(values))
    except AppError as error:
        if error.status == 404:
            raise
        flash_error(error)
        return _detail(customers.get_customer_or_raise(customer_id), values=values, errors=error.details,
                       status=error.status)
    flash(f"Saved {customer.name or customer.email or customer.external_id or f'customer {customer.id}'}.",
          "success")
    return redirect(url_for("web.customer_page", customer_id=customer.id))


def _import_events(first: Progress | CsvImportResult, steps: Generator[Progress | CsvImportResult, None, None],
                   upload: IO) -> Iterator[dict]:
    """The import's steps as the page shows them; a problem half way ends it with nothing written."""
    step: Progress | CsvImportResult | None = first
    try:
        while step is not None:
            if isinstance(step, CsvImportResult):
                yield {"result": step, "bad": [f"line {line}: {reason}" for line, reason in step.errors[:20]],
                       "more": max(0, len(step.errors) - 20)}
                return
            yield {"progress": step}
            try:
                step = next(steps, None)
            except AppError as error:
                yield {"error": error.message}
                return
    finally:
        steps.close()   # a reader gone half way: the import rolls back while the upload is still open
        upload.close()


@bp.post("/customers/import")
@body_limit("MAX_UPLOAD_BODY_BYTES")
@login_required("lead")
def import_customers():
    """A CRM's CSV export: checked row by row, then upserted in chunks, the page showing how far it is
    as it goes (streamed: no second process to ask); all rows or none unless told to skip bad ones."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose a CSV file to import.", "error")
        return redirect(url_for("web.customers_page"))
    # Werkzeug closes the request's files once the view returns, before a streamed page is written:
    # the import reads its own copy (in memory up to 1 MB, then on disk), closed when it ends.
    copy = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
    shutil.copyfileobj(upload.stream, copy)
    copy.seek(0)
    steps = import_steps(copy, on_error="skip" if request.form.get("skip_bad_rows") == "on" else "abort")
    try:
        first = next(steps)   # the header: a file Tocsin cannot read is refused before the page starts
    except AppError as error:
        copy.close()
        flash_error(error)
        return redirect(url_for("web.customers_page"))
    get_flashed_messages()    # read now: the session is saved before a streamed page is written
    response = Response(stream_template("customer_import.html", events=_import_events(first, steps, copy),
                                        filename=upload.filename), mimetype="text/html")
    response.headers["X-Accel-Buffering"] = "no"   # a proxy in front must pass each step on at once
    response.headers["Cache-Control"] = "no-store"
    return response
