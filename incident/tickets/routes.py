"""JSON API for tickets, bulk links, link rules, merges and CSV export (/api/v1)."""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request, stream_with_context
from pydantic import ValidationError

from ..api import json_body, page_args, paginated, parse, validation_details
from ..auth.access import api_auth
from ..clock import isoformat
from ..errors import TooLarge, ValidationFailed
from ..incidents.models import Incident
from ..incidents.visibility import hidden_incidents
from ..security import body_limit
from ..server_timing import Steps
from . import ingest, service
from .schemas import MAX_BATCH, BatchIn, FilterIn, LinkIn, LinkRuleIn, MergeIn, TicketIn, UnlinkIn, ticket_to_dict

bp = Blueprint("api_tickets", __name__, url_prefix="/api/v1")


def parse_batch(body: dict) -> list[TicketIn]:
    """One ticket or {"tickets": [...]}: all valid, or 422 naming each bad item and why."""
    batch = body.get("tickets") if set(body) == {"tickets"} else [body]
    if not isinstance(batch, list) or not batch:
        raise ValidationFailed("Send one ticket, or {\"tickets\": [...]} with at least one.",
                               details={"tickets": "a non-empty list"})
    if len(batch) > MAX_BATCH:
        raise TooLarge(f"At most {MAX_BATCH} tickets per request; this one has {len(batch)}.",
                       details={"max": MAX_BATCH, "got": len(batch)})
    items, problems = [], []
    for index, raw in enumerate(batch):
        try:
            items.append(TicketIn.model_validate(raw))
        except ValidationError as error:
            problems += [{"index": index, "field": field, "message": message}
                         for field, message in validation_details(error).items()]
    if problems:
        raise ValidationFailed(f"{len({p['index'] for p in problems})} of {len(batch)} tickets are invalid; "
                               "nothing was written.", details={"items": problems[:200], "invalid": len(problems)})
    return items


def read_batch() -> list[TicketIn]:
    """The request's tickets. A valid {"tickets": [...]} body is parsed and validated in one pass, the
    JSON read by pydantic straight into the models (no dicts in between); any other body (one ticket, a
    bad item, malformed JSON, too many) is read again by json_body and parse_batch, which say what is
    wrong as they always have: each bad item's index, field and message, and nothing written."""
    if request.is_json:
        raw = request.get_data()
        if b"\\u0000" not in raw:   # json_body refuses it
            try:
                return BatchIn.model_validate_json(raw).tickets
            except ValidationError:
                pass
    return parse_batch(json_body(keep=False))


@bp.post("/tickets")
@body_limit("MAX_BATCH_BODY_BYTES")  # up to 10,000 tickets
@api_auth("agent")
def ingest_tickets():
    steps = Steps("parse", *ingest.STEPS)
    with ingest.gc_paused():
        result = _ingest_batch(steps)   # the batch's objects are gone before collection resumes
    response = jsonify(result)
    response.headers["Server-Timing"] = steps.header()   # where the time went: bench_ingest.py prints it
    return response


def _ingest_batch(steps: Steps) -> dict:
    with steps.step("parse"):
        items = read_batch()
    return ingest.ingest_tickets(g.user, items, steps=steps).as_dict()


def filter_from_args(**extra):
    """A ticket filter from the query string: tag (repeatable), service, q, since, until, source, unlinked."""
    args = request.args
    data = {"tags": args.getlist("tag"), "services": args.getlist("service"), "text": args.get("q", ""),
            "since": args.get("since") or None, "until": args.get("until") or None,
            "source": args.get("source") or None, "unlinked_only": args.get("unlinked", "false").lower() == "true"}
    try:
        return FilterIn.model_validate(data).to_filter(**extra)
    except ValidationError as error:
        raise ValidationFailed("Invalid filter.", details=validation_details(error)) from None


@bp.get("/tickets")
@api_auth("viewer")
def list_tickets():
    page, per_page = page_args()
    incident_id = request.args.get("incident_id")
    extra = {"incident_id": Incident.get_or_raise(incident_id).id} if incident_id else {}
    return jsonify(_page(filter_from_args(**extra), page, per_page))


@bp.get("/incidents/<incident_id>/tickets")
@api_auth("viewer")
def incident_tickets(incident_id):
    page, per_page = page_args()
    incident = Incident.get_or_raise(incident_id)
    return jsonify(_page(filter_from_args(incident_id=incident.id), page, per_page))


def _page(ticket_filter, page: int, per_page: int) -> dict:
    """The paging envelope plus next_cursor / prev_cursor; `cursor` (keyset) takes over from `page`."""
    cursor = request.args.get("cursor")
    result = service.page_tickets(ticket_filter, cursor=cursor, page=page,
                                  per_page=per_page)
    hidden = hidden_incidents(t.incident_id for t in result.rows)
    return {**paginated([ticket_to_dict(t, hidden) for t in result.rows], page, per_page, result.total),
            "next_cursor": result.next_cursor, "prev_cursor": result.prev_cursor}


@bp.post("/incidents/<incident_id>/tickets")
@body_limit("MAX_BATCH_BODY_BYTES")  # up to 100,000 external ids
@api_auth("agent")
def link(incident_id):
    body = parse(LinkIn)
    if body.external_ids is not None:
        result = service.link_by_ids(g.user, incident_id, body.external_ids, source=body.source)
    else:
        result = service.link_by_filter(g.user, incident_id, body.filter.to_filter())
    return jsonify(result)


@bp.delete("/incidents/<incident_id>/tickets/<path:external_id>")
@api_auth("agent")
def unlink_one(incident_id, external_id):
    result = service.unlink(g.user, incident_id, external_ids=[external_id], source=request.args.get("source"))
    if not result["unlinked"]:
        return jsonify({"error": {"code": "not_linked", "message": f"{external_id} is not linked here.",
                                  "details": {}}}), 404
    return jsonify(result)


@bp.post("/incidents/<incident_id>/tickets/unlink")
@body_limit("MAX_BATCH_BODY_BYTES")
@api_auth("agent")
def unlink_many(incident_id):
    body = parse(UnlinkIn)
    ticket_filter = body.filter.to_filter(unlinked_only=False) if body.filter else None
    return jsonify(service.unlink(g.user, incident_id, external_ids=body.external_ids, source=body.source,
                                  ticket_filter=ticket_filter))


@bp.get("/incidents/<incident_id>/tickets.csv")
@api_auth("viewer")
def export(incident_id):
    return csv_download(Incident.get_or_raise(incident_id))


def csv_download(incident: Incident) -> Response:
    """The incident's linked tickets as a streamed CSV attachment (API and web)."""
    return Response(stream_with_context(service.export_csv(incident.id)), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{incident.reference}-tickets.csv"'})


def rule_to_dict(rule) -> dict:
    return {"id": rule.id, "tags": rule.tags, "text": rule.text, "services": rule.services,
            "active": rule.active, "linked": rule.linked, "created_at": isoformat(rule.created_at)}


@bp.post("/incidents/<incident_id>/link-rules")
@api_auth("agent")
def add_rule(incident_id):
    body = parse(LinkRuleIn)
    rule, linked = service.add_link_rule(g.user, incident_id, tags=body.tags, text=body.text,
                                         services=body.services, link_existing=body.link_existing)
    return jsonify({**rule_to_dict(rule), "linked_now": linked}), 201


@bp.get("/incidents/<incident_id>/link-rules")
@api_auth("viewer")
def list_rules(incident_id):
    return jsonify({"items": [rule_to_dict(r) for r in service.list_link_rules(incident_id)]})


@bp.delete("/incidents/<incident_id>/link-rules/<int:rule_id>")
@api_auth("agent")
def remove_rule(incident_id, rule_id):
    service.remove_link_rule(g.user, incident_id, rule_id)
    return jsonify({"id": rule_id, "active": False})


@bp.post("/incidents/<incident_id>/merge")
@api_auth("lead")
def merge(incident_id):
    body = parse(MergeIn)
    parent = service.merge_incident(g.user, incident_id, into=body.into)
    return jsonify({"merged_into": parent.id, "reference": parent.reference})
