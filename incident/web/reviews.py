"""Staff pages for post-incident reviews: write the sections with a live preview, move the review
along, export it (Markdown, a print-ready page), and action items — on the review, on *My action
items*, and overdue ones on the dashboard. Staff only; every piece of text is escaped, and the
sections are rendered by the safe Markdown renderer (reviews/markdown.py)."""
from __future__ import annotations

from datetime import datetime

from flask import Response, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from ..auth.access import login_required
from ..auth.models import User
from ..errors import AppError
from ..extensions import db
from ..incidents.models import Incident
from ..reviews import service
from ..reviews.markdown import after, render, when
from ..reviews.policy import SECTIONS, STATUS_LABELS
from ..reviews.record import KEY_TIME_LABELS, KEY_TIMES
from ..reviews.routes import markdown_response
from ..reviews.schemas import ActionItemIn, ActionItemPatch, SectionsIn
from ..roles.policy import ROLES
from ..tickets.chart import flood_chart_svg
from .blueprint import bp
from .forms import flash_error, parse_form

MOVES = {"in_review": "Send for review", "draft": "Back to draft", "published": "Publish"}


def review_context(incident: Incident) -> dict:
    """What the incident page shows of the review: a link to it, or (resolved, none yet) a way to open one."""
    return {"review": service.find_review(incident.id)}


def overdue_context() -> dict:
    """The dashboard's box: open action items past their due day."""
    rows, total = service.list_action_items(overdue=True, per_page=10)
    return {"overdue_items": rows, "overdue_total": total}


def chart(view: dict, *, chart_id: str = "review-chart"):
    tickets = view["tickets"]
    buckets = [(datetime.fromisoformat(t), n) for t, n in tickets["buckets"]]
    markers = [(datetime.fromisoformat(t), label) for t, label in tickets["markers"]]
    return flood_chart_svg(buckets, bucket_minutes=tickets["bucket_minutes"], markers=markers, chart_id=chart_id,
                           label=f"{view['reference']}: linked tickets over time")


def _page(incident_id: int, *, drafts: dict | None = None, previews: dict | None = None, status: int = 200):
    incident, review = service.get_review_or_raise(incident_id)
    view = service.review_view(incident, review)
    texts = drafts if drafts is not None else view["sections"]
    staff = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name, User.email)).all()
    return render_template(
        "review.html", incident=incident, view=view, texts=texts, chart=chart(view), staff=staff,
        rendered={name: render(text) for name, text in view["sections"].items()}, previews=previews,
        **_helpers()), status


def short(iso: str | None) -> str:
    """'22 Nov 09:03' (UTC), for the narrow column."""
    return datetime.fromisoformat(iso).strftime("%d %b %H:%M") if iso else "—"


def _helpers() -> dict:
    return {"sections": SECTIONS, "status_labels": STATUS_LABELS, "key_times": KEY_TIMES,
            "key_time_labels": KEY_TIME_LABELS, "at": when, "short": short, "after": after, "moves": MOVES,
            "role_labels": ROLES}


@bp.get("/incidents/<int:incident_id>/review")
@login_required()
def review_page(incident_id):
    incident = Incident.get_or_raise(incident_id)
    if service.find_review(incident.id) is None:
        return render_template("review_missing.html", incident=incident), 404
    return _page(incident.id)


@bp.post("/incidents/<int:incident_id>/review/open")
@login_required("lead")
def open_review(incident_id):
    try:
        service.open_review_by_hand(g.user, incident_id)
    except AppError as error:
        flash_error(error)
        return redirect(url_for("web.incident", incident_id=incident_id))
    flash("Review opened as a draft.", "success")
    return redirect(url_for("web.review_page", incident_id=incident_id))


def _form_sections() -> dict:
    return {name: request.form.get(name, "").replace("\r\n", "\n") for name in SECTIONS}


def _form_version() -> int | None:
    return request.form.get("version", type=int)


@bp.post("/incidents/<int:incident_id>/review")
@login_required("lead")
def save_review(incident_id):
    """Save the sections, or (Preview) show them rendered without saving; an error keeps what was typed."""
    drafts = _form_sections()
    if request.form.get("action") == "preview":
        return _page(incident_id, drafts=drafts, previews={name: render(text) for name, text in drafts.items()})
    try:
        sections = parse_form(SectionsIn, drafts).model_dump()
        service.edit_review(g.user, incident_id, sections=sections, version=_form_version())
    except AppError as error:
        flash_error(error)
        return _page(incident_id, drafts=drafts, status=error.status)
    flash("Review saved.", "success")
    return redirect(url_for("web.review_page", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/review/status")
@login_required("lead")
def move_review(incident_id):
    try:
        service.edit_review(g.user, incident_id, status=request.form.get("to", ""), version=_form_version())
    except AppError as error:
        flash_error(error)
    else:
        flash(f"Review {STATUS_LABELS.get(request.form.get('to', ''), '')}.", "success")
    return redirect(url_for("web.review_page", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/review/preview")
@login_required("lead")
def preview_review(incident_id):
    """The live preview: each section of the form rendered as the review will show it (saves nothing)."""
    Incident.get_or_raise(incident_id)
    drafts = _form_sections()
    return render_template("_review_preview.html", sections=SECTIONS,
                           previews={name: render(text) for name, text in drafts.items()})


@bp.get("/incidents/<int:incident_id>/review.md")
@login_required()
def review_markdown(incident_id):
    return markdown_response(Incident.get_or_raise(incident_id).id)


@bp.get("/incidents/<int:incident_id>/review/print")
@login_required()
def review_print(incident_id):
    incident, review = service.get_review_or_raise(incident_id)
    view = service.review_view(incident, review)
    return render_template("review_print.html", incident=incident, view=view, chart=chart(view, chart_id="print-chart"),
                           rendered={name: render(text) for name, text in view["sections"].items()}, **_helpers())


@bp.get("/incidents/<int:incident_id>/review/chart.svg")
@login_required()
def review_chart(incident_id):
    incident, review = service.get_review_or_raise(incident_id)
    return Response(str(chart(service.review_view(incident, review))), mimetype="image/svg+xml")


# Action items ------------------------------------------------------------------------------------

@bp.post("/incidents/<int:incident_id>/action-items")
@login_required("lead")
def add_action_item(incident_id):
    form = request.form
    data = {"title": form.get("title", ""), "owner": form.get("owner", ""), "due_on": form.get("due_on", ""),
            "url": form.get("url") or None}
    try:
        item = service.add_action_item(g.user, incident_id, parse_form(ActionItemIn, data))
    except AppError as error:
        flash_error(error)
    else:
        flash(f"Action item added for {item.owner.email}, due {item.due_on.isoformat()}.", "success")
    return redirect(url_for("web.review_page", incident_id=incident_id) + "#action-items")


BACK = {"review": "web.review_page", "mine": "web.my_action_items", "dashboard": "web.dashboard"}


@bp.post("/action-items/<int:item_id>/state")
@login_required()
def action_item_state(item_id):
    """Mark an action item done, dropped or open again (a lead, or its owner)."""
    back = request.form.get("back", "mine")
    try:
        body = parse_form(ActionItemPatch, {"state": request.form.get("state", "")})
        item = service.change_action_item(g.user, item_id, {"state": body.state})
    except AppError as error:
        flash_error(error)
        return redirect(url_for("web.my_action_items"))
    flash(f"“{item.title}” is {item.state}.", "success")
    if back == "review":
        return redirect(url_for("web.review_page", incident_id=item.incident_id) + "#action-items")
    return redirect(url_for(BACK.get(back, "web.my_action_items")))


@bp.get("/action-items/mine")
@login_required()
def my_action_items():
    """Every action item the staff member owns: open ones soonest due first, then the closed ones."""
    rows, _ = service.list_action_items(owner=g.user.email, per_page=500)
    return render_template("action_items_mine.html", open_items=[i for i in rows if i.state == "open"],
                           closed=[i for i in rows if i.state != "open"], today=service.today())
