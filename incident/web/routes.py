"""Staff pages: login, dashboard, declare, the incident room."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, g, make_response, redirect, render_template, request, session, url_for
from sqlalchemy import select
from werkzeug.urls import iri_to_uri

from .. import flows
from ..alerts.box import possible_outages
from ..auth.access import login_required
from ..auth.models import User
from ..auth.service import PasswordLoginOff, WrongCredentials, log_in
from ..auth.sessions import end_session
from ..auth.throttle import TooManyLoginAttempts
from ..errors import AppError
from ..extensions import db
from ..incidents import service
from ..incidents.models import Incident
from ..incidents.policy import MODES, SEVERITIES, SEVERITY_LABELS, STATUSES
from ..incidents.schemas import DeclareIncident, EditIncident, Note, PostUpdate
from ..reports.policy import ReportParamsInvalid
from ..roles import service as roles
from ..roles.policy import ROLES, is_multi_holder
from ..tickets.floods import current_signals
from ..tickets.service import linked_counts
from .blueprint import bp
from .forms import flash_error, parse_form
from .incident_page import incident_sections
from .reports import incidents_behind_args
from .reviews import overdue_context


def _safe_next(target: str | None) -> str:
    """A page of this site to go to after login, else the dashboard. Checked as Werkzeug will send
    it (and browsers read it): C0 controls and spaces stripped at the ends, tabs and newlines
    removed, so `/<tab>/evil.com` is `//evil.com` here too, and refused."""
    target = target or ""
    try:
        uri = iri_to_uri(target)
        parts = urlsplit(uri)
    except (ValueError, UnicodeError):  # "//[" is an invalid IPv6 host; a lone surrogate cannot be encoded
        return url_for("web.dashboard")
    # A browser reads a backslash as a slash, and "///host" as "//host".
    if "\\" in target or parts.scheme or parts.netloc or not uri.startswith("/") or uri.startswith("//"):
        return url_for("web.dashboard")
    return uri


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    email = request.form.get("email", "")
    try:
        token = log_in(email, request.form.get("password", ""), client=request.remote_addr or "")
    except (WrongCredentials, TooManyLoginAttempts, PasswordLoginOff) as error:
        flash(error.message, "error")
        response = make_response(render_template("login.html", next=request.form.get("next", ""), email=email),
                                 error.status)
        if isinstance(error, TooManyLoginAttempts):
            response.headers["Retry-After"] = str(error.retry_after)
        return response
    return start_browser_session(token, request.form.get("next"))


def start_browser_session(token: str, next_page: str | None):
    """A fresh cookie holding only the new session's token, then on to `next_page` (if it is ours)."""
    session.clear()
    session.permanent = True
    session["sid"] = token  # a random token: nothing about the staff member or their password
    return redirect(_safe_next(next_page))


@bp.post("/logout")
def logout():
    if session.get("sid"):
        end_session(session["sid"])
    session.clear()
    return redirect(url_for("web.login"))


@bp.get("/")
@login_required()
def dashboard():
    incidents, _ = service.list_incidents(status="open", per_page=500)
    holders = roles.holders_by_incident([i.id for i in incidents])
    linked = linked_counts([i.id for i in incidents])
    rows = [{"incident": i, "holders": holders[i.id], "missing": roles.missing_required(i, holders[i.id]),
             "linked": linked.get(i.id, 0)} for i in incidents if not i.merged_into_id]
    return render_template("dashboard.html", rows=rows, severity_labels=SEVERITY_LABELS,
                           floods=current_signals(), alert_groups=possible_outages(), severities=SEVERITIES,
                           **overdue_context())


@bp.get("/incidents")
@login_required()
def incidents():
    status = request.args.get("status", "all")
    if status not in {"open", "resolved", "all"}:
        status = "all"
    page = max(1, request.args.get("page", 1, type=int) or 1)
    try:
        behind = incidents_behind_args(request.args, page, 50)   # a click from a figure on the Reports page
    except (ReportParamsInvalid, AppError) as error:
        flash(f"Not a report's filter: {error}", "error")
        behind = None
    if behind is not None:
        return render_template("incidents.html", incidents=behind["rows"], total=behind["total"], page=page,
                               status=None, behind=behind)
    rows, total = service.list_incidents(status=status, page=page, per_page=50)
    return render_template("incidents.html", incidents=rows, total=total, page=page, status=status)


@bp.route("/incidents/new", methods=["GET", "POST"])
@login_required("lead")
def declare():
    values = {"severity": "SEV2", "mode": "tiered"}
    if request.method == "POST":
        values = request.form.to_dict()
        data = {k: v for k, v in values.items() if k in {"title", "severity", "summary", "mode"}}
        data["services"] = [s for s in values.get("services", "").replace(",", " ").split() if s]
        data["private"] = values.get("private") == "on"
        try:
            body = parse_form(DeclareIncident, data)
            incident = flows.declare_incident(g.user, **body.model_dump())
        except AppError as error:
            flash_error(error)
            return render_template("declare.html", values=values, severities=SEVERITIES, modes=MODES,
                                   severity_labels=SEVERITY_LABELS), error.status
        flash(f"{incident.reference} declared. You are the commander.", "success")
        return redirect(url_for("web.incident", incident_id=incident.id))
    return render_template("declare.html", values=values, severities=SEVERITIES, modes=MODES,
                           severity_labels=SEVERITY_LABELS)


@bp.get("/incidents/<int:incident_id>")
@login_required()
def incident(incident_id):
    incident = Incident.get_or_raise(incident_id)
    holders = roles.holders_by_incident([incident.id])[incident.id]
    mine = [t.role for t in roles.current_assignments(incident.id) if t.user_id == g.user.id]
    others = [r for r in ROLES if r not in mine]
    timeline, total = service.list_timeline(incident.id, per_page=200, newest_first=True)
    staff = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name, User.email)).all()
    return render_template(
        "incident.html",
        **incident_sections(incident),
        incident=incident,
        holders=holders,
        roles=ROLES,
        is_multi=is_multi_holder,
        missing=roles.missing_required(incident, holders),
        history=roles.role_history(incident.id),
        my_checklists=roles.checklists(incident, mine),
        other_checklists=roles.checklists(incident, others),
        updates=service.list_updates(incident.id),
        members=(members := service.list_members(incident.id)),
        member_ids={m.user_id for m in members},
        timeline=timeline,
        timeline_total=total,
        staff=staff,
        statuses=STATUSES,
        severities=SEVERITIES,
        severity_labels=SEVERITY_LABELS,
    )


def _act(incident_id: int, action, success: str):
    """Run one form action, flash how it went, and go back to the incident room."""
    try:
        result = action()
    except AppError as error:
        flash_error(error)
    else:
        if result is not False:
            flash(success, "success")
    return redirect(url_for("web.incident", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/updates")
@login_required("lead")
def post_update(incident_id):
    form = request.form
    data = {"status": form.get("status") or None, "message": form.get("message", ""), "public": form.get("public") == "on",
            "notify_subscribers": form.get("notify_subscribers") == "on"}
    return _act(
        incident_id,
        lambda: service.post_update(g.user, incident_id, **parse_form(PostUpdate, data).model_dump()),
        "Update posted.",
    )


@bp.post("/incidents/<int:incident_id>/private")
@login_required("lead")
def set_private(incident_id):
    private = request.form.get("private") == "on"
    return _act(incident_id, lambda: service.edit_incident(g.user, incident_id, {"private": private}),
                "The incident is private now." if private else "The incident is public now.")


@bp.post("/incidents/<int:incident_id>/members")
@login_required("lead")
def add_member(incident_id):
    email = request.form.get("email", "")
    return _act(incident_id, lambda: service.add_member(g.user, incident_id, email), f"{email} can see it now.")


@bp.post("/incidents/<int:incident_id>/members/remove")
@login_required("lead")
def remove_member(incident_id):
    email = request.form.get("email", "")
    return _act(incident_id, lambda: service.remove_member(g.user, incident_id, email), f"{email} was removed.")


@bp.post("/incidents/<int:incident_id>/edit")
@login_required("lead")
def edit(incident_id):
    form = request.form
    data = {
        "title": form.get("title"),
        "severity": form.get("severity"),
        "summary": form.get("summary", ""),
        "services": [s for s in form.get("services", "").replace(",", " ").split() if s],
        "solve_tickets_on_resolve": form.get("solve_tickets_on_resolve") == "on",
    }
    return _act(
        incident_id,
        lambda: service.edit_incident(g.user, incident_id, parse_form(EditIncident, data).model_dump()),
        "Incident updated.",
    )


@bp.post("/incidents/<int:incident_id>/roles")
@login_required("lead")
def assign_role(incident_id):
    role, user = request.form.get("role", ""), request.form.get("user", "")
    return _act(
        incident_id,
        lambda: roles.assign_role(g.user, incident_id, role, user_email=user),
        f"{ROLES.get(role, role)}: {user}.",
    )


@bp.post("/incidents/<int:incident_id>/roles/relieve")
@login_required("lead")
def relieve_role(incident_id):
    role, user = request.form.get("role", ""), request.form.get("user") or None
    return _act(
        incident_id,
        lambda: roles.relieve_role(g.user, incident_id, role, user_email=user),
        f"{ROLES.get(role, role)} relieved.",
    )


@bp.post("/incidents/<int:incident_id>/notes")
@login_required("agent")
def add_note(incident_id):
    text = request.form.get("text", "")
    return _act(
        incident_id, lambda: service.add_note(g.user, incident_id, parse_form(Note, {"text": text}).text), "Note added."
    )


@bp.post("/incidents/<int:incident_id>/checklist")
@login_required()
def tick(incident_id):
    form = request.form
    return _act(
        incident_id,
        lambda: roles.set_checklist_item(
            g.user,
            incident_id,
            runbook=form.get("runbook", ""),
            item=form.get("item", ""),
            checked=form.get("checked") == "1",
        ),
        "Checklist updated.",
    )
