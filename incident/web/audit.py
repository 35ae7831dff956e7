"""The Audit page: who changed which configuration, when, before and after; search and CSV. Leads."""
from __future__ import annotations

from flask import render_template, request, url_for

from ..api import page_args
from ..audit import service
from ..audit.policy import KINDS
from ..audit.routes import PERMISSION, csv_response, filter_from_args
from ..auth.access import login_required
from ..errors import AppError
from .blueprint import bp

PER_PAGE = 50


@bp.get("/audit")
@login_required(PERMISSION)
def audit_page():
    values = {key: request.args.get(key, "") for key in ("since", "until", "actor", "kind")}
    form = {"kinds": KINDS, "actors": service.list_actors(), "values": values}
    try:
        audit_filter = filter_from_args()
        page, _ = page_args(PER_PAGE)
    except AppError as error:
        return render_template("audit.html", error=error, entries=[], total=0, page=1, per_page=PER_PAGE,
                               args={}, csv_url=None, **form), error.status
    entries, total = service.list_entries(audit_filter, page=page, per_page=PER_PAGE)
    return render_template("audit.html", entries=entries, total=total, page=page, per_page=PER_PAGE,
                           args=audit_filter.as_args(), csv_url=url_for("web.audit_csv", **audit_filter.as_args()),
                           error=None, **form)


@bp.get("/audit.csv")
@login_required(PERMISSION)
def audit_csv():
    return csv_response(filter_from_args())
