"""JSON API for the audit trail (/api/v1/audit): the entries, paged, and as CSV. Leads and admins."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, stream_with_context

from ..api import page_args, paginated
from ..auth.access import api_auth
from ..errors import ValidationFailed
from . import service
from .policy import AuditFilter, AuditParamsInvalid, parse_filter

bp = Blueprint("api_audit", __name__, url_prefix="/api/v1")
PERMISSION = "lead"


def filter_from_args() -> AuditFilter:
    """The filters from the query string; 422 naming each one that makes no sense."""
    try:
        return parse_filter(dict(request.args.lists()))
    except AuditParamsInvalid as error:
        raise ValidationFailed(f"The audit filters make no sense: {error}", details=error.details) from None


@bp.get("/audit")
@api_auth(PERMISSION)
def audit_list():
    audit_filter = filter_from_args()
    page, per_page = page_args()
    entries, total = service.list_entries(audit_filter, page=page, per_page=per_page)
    return jsonify(paginated([service.entry_to_dict(e) for e in entries], page, per_page, total))


@bp.get("/audit.csv")
@api_auth(PERMISSION)
def audit_csv():
    return csv_response(filter_from_args())


def csv_response(audit_filter: AuditFilter) -> Response:
    """The entries as a streamed CSV attachment (API and web)."""
    return Response(stream_with_context(service.export_csv(audit_filter)), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
