"""JSON API for post-incident reviews and action items (/api/v1)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from ..api import page_args, paginated, parse
from ..auth.access import api_auth
from ..errors import ValidationFailed
from ..validation import normalize_email
from . import service
from .markdown import export
from .policy import STATES
from .schemas import ActionItemIn, ActionItemPatch, ReviewPatch, item_to_dict

bp = Blueprint("api_reviews", __name__, url_prefix="/api/v1")


def review_json(incident_id) -> dict:
    incident, review = service.get_review_or_raise(incident_id)
    return service.review_view(incident, review)


def chart_url(incident_id: int) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/incidents/{incident_id}/review/chart.svg"


def markdown_response(incident_id) -> Response:
    """The review as a Markdown file (text/markdown), named after the incident."""
    view = review_json(incident_id)
    response = Response(export(view, chart_url=chart_url(view["incident_id"])), mimetype="text/markdown")
    response.headers["Content-Disposition"] = f'attachment; filename="{view["reference"]}-review.md"'
    return response


@bp.get("/incidents/<incident_id>/review")
@api_auth("viewer")
def get_review(incident_id):
    return jsonify(review_json(incident_id))


@bp.post("/incidents/<incident_id>/review")
@api_auth("lead")
def open_review(incident_id):
    review = service.open_review_by_hand(g.user, incident_id)
    return jsonify(review_json(review.incident_id)), 201


@bp.patch("/incidents/<incident_id>/review")
@api_auth("lead")
def edit_review(incident_id):
    body = parse(ReviewPatch)
    sections = body.sections.model_dump(include=body.sections.model_fields_set) if body.sections else None
    review = service.edit_review(g.user, incident_id, sections=sections, status=body.status, version=body.version)
    return jsonify(review_json(review.incident_id))


@bp.get("/incidents/<incident_id>/review.md")
@api_auth("viewer")
def review_markdown(incident_id):
    return markdown_response(incident_id)


@bp.post("/incidents/<incident_id>/action-items")
@api_auth("lead")
def add_action_item(incident_id):
    item = service.add_action_item(g.user, incident_id, parse(ActionItemIn))
    return jsonify(item_to_dict(item, service.today())), 201


@bp.patch("/action-items/<item_id>")
@api_auth("viewer")   # the owner may move their item's state; everything else needs a lead (the service checks)
def change_action_item(item_id):
    body = parse(ActionItemPatch)
    item = service.change_action_item(g.user, item_id, body.model_dump(include=body.model_fields_set))
    return jsonify(item_to_dict(item, service.today()))


@bp.get("/action-items")
@api_auth("viewer")
def list_action_items():
    page, per_page = page_args()
    filters = _item_filters()
    rows, total = service.list_action_items(**filters, page=page, per_page=per_page)
    return jsonify(paginated([item_to_dict(i, service.today()) for i in rows], page, per_page, total))


def _item_filters() -> dict:
    """owner (an email), state (open|done|dropped), overdue (true|false); 422 with the reason otherwise."""
    args, problems = request.args, {}
    filters: dict[str, Any] = {}
    if args.get("owner"):
        try:
            filters["owner"] = normalize_email(args["owner"])
        except ValueError:
            problems["owner"] = "an email address"
    if args.get("state"):
        if args["state"] in STATES:
            filters["state"] = args["state"]
        else:
            problems["state"] = f"one of {', '.join(STATES)}"
    if args.get("overdue"):
        if args["overdue"] in ("true", "false"):
            filters["overdue"] = args["overdue"] == "true"
        else:
            problems["overdue"] = "true or false"
    if problems:
        raise ValidationFailed("The filters have invalid values.", details=problems)
    return filters
