"""Staff pages for the ticket flood: the tickets view, linking from it, the incident's tickets."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from pydantic import ValidationError

from .. import flows
from ..api import validation_details
from ..auth.access import login_required
from ..errors import AppError, ValidationFailed
from ..incidents import service as incidents
from ..incidents.models import Incident
from ..incidents.visibility import hidden_incidents
from ..known_issues.service import ticket_flags
from ..security import body_limit
from ..tickets import service as tickets
from ..tickets.chart import flood_chart_svg
from ..tickets.csv_import import import_csv
from ..tickets.policy import decode_words
from ..tickets.routes import csv_download
from ..tickets.schemas import FilterIn
from ..tickets.service import linked_counts
from ..tickets.stats import chart_buckets, chart_markers, ticket_stats
from .blueprint import bp
from .forms import flash_error

PER_PAGE = 50
ROOM_PER_PAGE = 20
FILTER_KEYS = ("tag", "service", "q", "since", "until", "source", "linked")


def _filter_from(values, **extra):
    """A ticket filter from form or query values (tag and service may be comma-separated)."""
    def words(key):
        return [w for v in values.getlist(key) for w in v.replace(",", " ").split()]

    data = {"tags": words("tag"), "services": words("service"), "text": values.get("q", ""),
            "since": values.get("since") or None, "until": values.get("until") or None,
            "source": values.get("source") or None,
            "unlinked_only": values.get("linked", "unlinked") == "unlinked"}
    try:
        return FilterIn.model_validate(data).to_filter(**extra)
    except ValidationError as error:
        raise ValidationFailed("Invalid filter.", details=validation_details(error)) from None


def _page_or_first(ticket_filter, cursor: str | None, page: int, per_page: int) -> tickets.TicketPage:
    """The page a cursor names (keyset paging), or by number; a bad cursor: said, and the first page."""
    try:
        return tickets.page_tickets(ticket_filter, cursor=cursor or None, page=page, per_page=per_page)
    except ValidationFailed as error:
        flash_error(error)
        return tickets.page_tickets(ticket_filter, per_page=per_page)


def _current_args() -> dict:
    return {k: request.args.get(k) for k in FILTER_KEYS if request.args.get(k)}


@bp.get("/tickets")
@login_required()
def tickets_view():
    page = max(1, request.args.get("page", 1, type=int) or 1)
    try:
        ticket_filter = _filter_from(request.args)
    except AppError as error:
        flash_error(error)
        ticket_filter = _filter_from({})
    result = _page_or_first(ticket_filter, request.args.get("cursor"), page, PER_PAGE)
    rows, total = result.rows, result.total
    open_incidents, _ = incidents.list_incidents(status="open", per_page=500)
    return render_template("tickets.html", tickets=rows, total=total, page=page, per_page=PER_PAGE,
                           next_cursor=result.next_cursor, prev_cursor=result.prev_cursor,
                           args=_current_args(), incidents=[i for i in open_incidents if not i.merged_into_id],
                           words=decode_words, filter_active=ticket_filter.narrows,
                           known=ticket_flags([t.id for t in rows]),
                           hidden=hidden_incidents(t.incident_id for t in rows))


@bp.post("/tickets/link")
@login_required("agent")
def link_from_view():
    form = request.form
    incident_id = form.get("incident_id", type=int)
    back = redirect(url_for("web.tickets_view", **{k: form.get(k) for k in FILTER_KEYS if form.get(k)}))
    try:
        if form.get("mode") == "all":
            ticket_filter = _filter_from(form)
            if not ticket_filter.narrows:
                raise ValidationFailed("Set a filter first: linking every ticket at once is not allowed.")
            result = tickets.link_by_filter(g.user, incident_id, ticket_filter)
        else:
            ids = [int(i) for i in form.getlist("ticket") if i.isdigit()]
            if not ids:
                raise ValidationFailed("Select at least one ticket, or link all that match.")
            result = tickets.link_ticket_ids(g.user, incident_id, ids)
    except AppError as error:
        flash_error(error)
        return back
    flash(f"Linked {result['linked']} ticket{'' if result['linked'] == 1 else 's'} to INC-{incident_id}"
          + (f" ({result['already_linked']} were linked already)" if result.get("already_linked") else "") + ".",
          "success")
    return redirect(url_for("web.incident", incident_id=incident_id))


def incident_tickets_context(incident: Incident) -> dict:
    """What the incident page shows of the flood: count, chart, top tags, a page of tickets."""
    stats = ticket_stats(incident)
    page = max(1, request.args.get("tp", 1, type=int) or 1)
    try:
        ticket_filter = _filter_from(request.args, incident_id=incident.id)
    except AppError:
        ticket_filter = _filter_from({}, incident_id=incident.id)
    ticket_filter = ticket_filter.__class__(**{**ticket_filter.__dict__, "unlinked_only": False})
    result = _page_or_first(ticket_filter, request.args.get("tc"), page, ROOM_PER_PAGE)
    rows, total = result.rows, result.total
    chart = flood_chart_svg(chart_buckets(stats), bucket_minutes=stats["bucket_minutes"],
                            markers=chart_markers(incident.id), label=f"{incident.reference}: linked tickets over time")
    linked = linked_counts([incident.id]).get(incident.id, 0)
    return {"ticket_stats": stats, "chart": chart, "linked_tickets": rows, "linked_total": total, "linked": linked,
            "ticket_page": page, "per_page": ROOM_PER_PAGE,
            "ticket_next": result.next_cursor, "ticket_prev": result.prev_cursor, "words": decode_words,
            "ticket_args": {k: v for k, v in _current_args().items() if k != "linked"},
            "link_rules": tickets.list_link_rules(incident.id),
            "merge_targets": [i for i in incidents.list_incidents(status="open", per_page=500)[0]
                              if i.id != incident.id and not i.merged_into_id]}


@bp.post("/incidents/<int:incident_id>/tickets/unlink")
@login_required("agent")
def unlink_from_page(incident_id):
    ids = [v for v in request.form.getlist("external_id") if v]
    try:
        if not ids:
            raise ValidationFailed("Select the tickets to unlink.")
        result = tickets.unlink(g.user, incident_id, external_ids=ids, source=request.form.get("source") or None)
    except AppError as error:
        flash_error(error)
    else:
        flash(f"Unlinked {result['unlinked']} ticket{'' if result['unlinked'] == 1 else 's'}.", "success")
    return redirect(url_for("web.incident", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/link-rules")
@login_required("agent")
def add_rule(incident_id):
    form = request.form
    try:
        rule_filter = _filter_from(form)
        rule, linked = tickets.add_link_rule(g.user, incident_id, tags=list(rule_filter.tags), text=rule_filter.text,
                                             services=list(rule_filter.services),
                                             link_existing=form.get("link_existing") == "on")
    except AppError as error:
        flash_error(error)
    else:
        flash(f"Link rule added; {linked} existing tickets linked now." if linked else "Link rule added.", "success")
    return redirect(url_for("web.incident", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/link-rules/<int:rule_id>/remove")
@login_required("agent")
def remove_rule(incident_id, rule_id):
    try:
        tickets.remove_link_rule(g.user, incident_id, rule_id)
    except AppError as error:
        flash_error(error)
    return redirect(url_for("web.incident", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/merge")
@login_required("lead")
def merge(incident_id):
    try:
        parent = tickets.merge_incident(g.user, incident_id, into=request.form.get("into", type=int))
    except AppError as error:
        flash_error(error)
        return redirect(url_for("web.incident", incident_id=incident_id))
    flash(f"Merged into {parent.reference}.", "success")
    return redirect(url_for("web.incident", incident_id=parent.id))


@bp.get("/incidents/<int:incident_id>/tickets.csv")
@login_required()
def export_csv(incident_id):
    return csv_download(Incident.get_or_raise(incident_id))


@bp.post("/floods/declare")
@login_required("lead")
def declare_flood():
    form = request.form
    try:
        incident, linked = flows.declare_from_flood(g.user, kind=form.get("kind", ""), key=form.get("key", ""),
                                                      severity=form.get("severity", "SEV3"))
    except AppError as error:
        flash_error(error)
        return redirect(url_for("web.dashboard"))
    flash(f"{incident.reference} declared; {linked} tickets linked and new ones will follow.", "success")
    return redirect(url_for("web.incident", incident_id=incident.id))


@bp.post("/tickets/import")
@body_limit("MAX_UPLOAD_BODY_BYTES")
@login_required("agent")
def import_upload():
    """A helpdesk CSV export uploaded from the tickets view; all rows or none unless told to skip."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose a CSV file to import.", "error")
        return redirect(url_for("web.tickets_view"))
    incident_id = request.form.get("incident_id", type=int)
    try:
        result = import_csv(upload.stream, actor=g.user, incident=incident_id,
                            on_error="skip" if request.form.get("skip_bad_rows") == "on" else "abort",
                            default_source=request.form.get("source") or "csv")
    except AppError as error:
        flash_error(error)
        return redirect(url_for("web.tickets_view"))
    bad = "; ".join(f"line {line}: {reason}" for line, reason in result.errors[:20])
    more = f" … and {len(result.errors) - 20} more" if len(result.errors) > 20 else ""
    if not result.written:
        flash(f"Nothing was imported: {len(result.errors)} bad rows ({bad}{more}). Fix them or tick "
              "“skip bad rows”.", "error")
    else:
        flash(result.summary() + (f". Skipped {len(result.skipped)} bad rows: {bad}{more}" if result.skipped else "."),
              "success")
    return redirect(url_for("web.tickets_view", linked="all"))
