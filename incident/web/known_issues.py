"""Staff pages for known issues: the incident's record (a form for leads) and the searchable list."""
from __future__ import annotations

from typing import cast

from flask import flash, g, redirect, render_template, request, url_for

from ..auth.access import login_required
from ..errors import AppError
from ..incidents.models import Incident
from ..known_issues import service
from ..known_issues.schemas import KnownIssueIn, known_issue_to_dict
from ..vocabulary import KnownIssueState
from .blueprint import bp
from .forms import flash_error, parse_form

PER_PAGE = 25
STATE_LABELS = {KnownIssueState.CURRENT: "current incident", KnownIssueState.KNOWN: "known issue"}


def _entry(incident: Incident) -> dict | None:
    row = service.get_known_issue(incident.id)
    if row is None:
        return None
    return known_issue_to_dict(row, incident, matched_tickets=service.matched_counts([incident.id]).get(incident.id, 0))


def known_issue_context(incident: Incident) -> dict:
    """What the incident page shows of its known issue."""
    return {"known_issue": _entry(incident)}


def _words(value: str) -> list[str]:
    return [w for w in value.replace(",", " ").split() if w]


def _form_data(form) -> dict:
    return {"workaround": form.get("workaround", ""), "symptoms": form.get("symptoms", ""),
            "cause": form.get("cause", ""), "fix": form.get("fix", ""), "tags": _words(form.get("tags", "")),
            "services": _words(form.get("services", "")),
            "match_phrases": [line.strip() for line in form.get("match_phrases", "").splitlines() if line.strip()],
            "flag_tickets": form.get("flag_tickets") == "on"}


def _back(incident_id: int):
    return redirect(url_for("web.incident", incident_id=incident_id) + "#known-issue")


@bp.post("/incidents/<int:incident_id>/known-issue")
@login_required("lead")
def save_known_issue(incident_id):
    incident = Incident.get_or_raise(incident_id)
    try:
        service.set_known_issue(g.user, incident.id, cast(KnownIssueIn, parse_form(KnownIssueIn, _form_data(request.form))))
    except AppError as error:
        flash_error(error)
    else:
        flash("Known issue saved." + (" Its workaround is on the status page while the incident is open."
                                      if request.form.get("workaround", "").strip() and incident.is_open else ""),
              "success")
    return _back(incident.id)


@bp.post("/incidents/<int:incident_id>/known-issue/remove")
@login_required("lead")
def remove_known_issue(incident_id):
    incident = Incident.get_or_raise(incident_id)
    try:
        service.remove_known_issue(g.user, incident.id)
    except AppError as error:
        flash_error(error)
    else:
        flash("Known issue removed.", "success")
    return _back(incident.id)


@bp.get("/known-issues")
@login_required()
def known_issues_page():
    q = request.args.get("q", "")
    state = request.args.get("state", "all")
    page = max(1, request.args.get("page", 1, type=int) or 1)
    try:
        rows, total = service.search_known_issues(q=q, state=state, page=page, per_page=PER_PAGE)
    except AppError as error:
        flash_error(error)
        q, state = "", "all"
        rows, total = service.search_known_issues(page=page, per_page=PER_PAGE)
    counts = service.matched_counts([incident.id for _, incident in rows])
    entries = [known_issue_to_dict(row, incident, matched_tickets=counts.get(incident.id, 0)) for row, incident in rows]
    args = {k: v for k, v in (("q", q), ("state", state)) if v and v != "all"}
    return render_template("known_issues.html", entries=entries, total=total, page=page, per_page=PER_PAGE,
                           q=q, state=state, args=args, states=service.STATES, state_labels=STATE_LABELS)
