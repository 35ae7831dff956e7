"""The Webhooks page (admins): register an endpoint (its secret shown once), delete it, send a test
event, read each endpoint's delivery log."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from ..auth.access import login_required
from ..errors import AppError
from ..webhooks import service
from ..webhooks.routes import PERMISSION
from ..webhooks.schemas import WebhookIn
from .blueprint import bp
from .forms import flash_error, parse_form

LOG_PER_PAGE = 50


def _index(status: int = 200, **extra):
    return render_template("webhooks.html", endpoints=service.list_endpoints(), events=service.EVENTS,
                           **extra), status


@bp.get("/webhooks")
@login_required(PERMISSION)
def webhooks_page():
    return _index()


@bp.post("/webhooks")
@login_required(PERMISSION)
def webhooks_register():
    form = {"url": request.form.get("url", "").strip(), "events": request.form.getlist("events"),
            "secret": request.form.get("secret", "").strip() or None,
            "description": request.form.get("description", "").strip()}
    try:
        data = parse_form(WebhookIn, form)
        endpoint, secret = service.register_endpoint(g.user, url=data.url, events=list(data.events),
                                                     secret=data.secret, description=data.description)
    except AppError as error:
        flash_error(error)
        return _index(error.status, form=form)
    # The secret is on this answer only: it is not stored anywhere a page can show it again.
    return _index(201, created=endpoint, secret=secret)


@bp.post("/webhooks/<int:endpoint_id>/delete")
@login_required(PERMISSION)
def webhooks_delete(endpoint_id):
    try:
        cancelled = service.delete_endpoint(g.user, endpoint_id)
        flash(f"Webhook {endpoint_id} deleted" + (f"; {cancelled} queued message(s) cancelled." if cancelled else "."),
              "ok")
    except AppError as error:
        flash_error(error)
    return redirect(url_for("web.webhooks_page"))


@bp.post("/webhooks/<int:endpoint_id>/test")
@login_required(PERMISSION)
def webhooks_test(endpoint_id):
    try:
        message = service.send_test(g.user, endpoint_id)
        flash(f"Test event {message.event_id} queued; the worker sends it within seconds.", "ok")
    except AppError as error:
        flash_error(error)
        return redirect(url_for("web.webhooks_page"))
    return redirect(url_for("web.webhook_log", endpoint_id=endpoint_id))


@bp.get("/webhooks/<int:endpoint_id>")
@login_required(PERMISSION)
def webhook_log(endpoint_id):
    endpoint = service.get_endpoint_or_raise(endpoint_id)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows, total = service.list_messages(endpoint_id, page=page, per_page=LOG_PER_PAGE)
    return render_template("webhook_log.html", endpoint=endpoint, rows=rows, total=total, page=page,
                           per_page=LOG_PER_PAGE)
