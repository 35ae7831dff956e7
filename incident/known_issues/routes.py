"""JSON API for known issues (/api/v1): an incident's record, and the search over every entry."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from pydantic import TypeAdapter, ValidationError

from ..api import page_args, paginated, parse, validation_details
from ..auth.access import api_auth
from ..errors import ValidationFailed
from ..tickets.schemas import Tag
from ..validation import Slug
from . import service
from .schemas import KnownIssueIn, known_issue_to_dict

bp = Blueprint("api_known_issues", __name__, url_prefix="/api/v1")


def _entry(row, incident) -> dict:
    return known_issue_to_dict(row, incident, matched_tickets=service.matched_counts([incident.id]).get(incident.id, 0))


@bp.put("/incidents/<incident_id>/known-issue")
@api_auth("lead")
def put_known_issue(incident_id):
    row, incident = service.set_known_issue(g.user, incident_id, parse(KnownIssueIn))
    return jsonify(_entry(row, incident))


@bp.get("/incidents/<incident_id>/known-issue")
@api_auth("viewer")
def get_known_issue(incident_id):
    return jsonify(_entry(*service.get_known_issue_or_raise(incident_id)))


@bp.delete("/incidents/<incident_id>/known-issue")
@api_auth("lead")
def delete_known_issue(incident_id):
    service.remove_known_issue(g.user, incident_id)
    return jsonify({"deleted": True})


WORDS = {"tag": TypeAdapter(Tag), "service": TypeAdapter(Slug)}


def _word(name: str) -> str | None:
    """A tag or service from the query string, normalised; 422 when it cannot be one."""
    raw = request.args.get(name) or None
    try:
        return WORDS[name].validate_python(raw) if raw is not None else None
    except ValidationError as error:
        raise ValidationFailed(f"Invalid {name}.", details={name: "; ".join(validation_details(error).values())}) \
            from None


@bp.get("/known-issues")
@api_auth("viewer")
def search():
    page, per_page = page_args()
    rows, total = service.search_known_issues(q=request.args.get("q", ""), state=request.args.get("state", "all"),
                                              tag=_word("tag"), service=_word("service"),
                                              page=page, per_page=per_page)
    counts = service.matched_counts([incident.id for _, incident in rows])
    return jsonify(paginated([known_issue_to_dict(row, incident, matched_tickets=counts.get(incident.id, 0))
                              for row, incident in rows], page, per_page, total))
