"""JSON API for reports (/api/v1/reports): the summary and the incidents as CSV."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, stream_with_context

from ..auth.access import api_auth
from ..clock import utcnow
from ..errors import ValidationFailed
from . import service
from .policy import ReportFilter, ReportParamsInvalid, parse_filter

bp = Blueprint("api_reports", __name__, url_prefix="/api/v1/reports")


def filter_from_args() -> ReportFilter:
    """The report's period and filters from the query string; 422 naming each parameter that makes no sense."""
    try:
        return parse_filter(dict(request.args.lists()), now=utcnow())
    except ReportParamsInvalid as error:
        raise ValidationFailed(f"The report's parameters make no sense: {error}", details=error.details) from None


@bp.get("/summary")
@api_auth("viewer")
def summary():
    return jsonify(service.summary(filter_from_args()))


@bp.get("/incidents.csv")
@api_auth("viewer")
def incidents_csv():
    return csv_response(filter_from_args())


def csv_response(report_filter: ReportFilter) -> Response:
    """The report's incidents as a streamed CSV attachment (API and web)."""
    rows = service.incidents_csv(report_filter)
    first = next(rows)   # the filter is checked before the answer starts (a 422 rather than a broken download)
    return Response(stream_with_context(_chain(first, rows)), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{service.csv_name(report_filter)}"'})


def _chain(first: str, rest):
    yield first
    yield from rest
