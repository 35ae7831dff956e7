"""Staff pages for the customer message templates: list, edit with a live preview, reset."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from ..auth.access import login_required
from ..broadcast import templates
from ..errors import AppError
from .blueprint import bp
from .forms import flash_error


def _key_or_404(kind: str, channel: str, locale: str) -> str:
    if kind not in templates.KINDS or channel not in templates.CHANNELS or locale not in templates.languages():
        abort(404)
    return locale


@bp.get("/templates")
@login_required("lead")
def templates_index():
    edited = templates.load_overrides()
    return render_template("message_templates.html", kinds=templates.KINDS, channels=templates.CHANNELS,
                           locales=templates.languages(), edited=edited)


@bp.route("/templates/<kind>/<channel>/<locale>", methods=["GET", "POST"])
@login_required("lead")
def template_edit(kind, channel, locale):
    _key_or_404(kind, channel, locale)
    current = templates.get_template(kind, channel, locale)
    subject, body, status = current["subject"], current["body"], 200
    action = request.form.get("action", "") if request.method == "POST" else ""
    if action in {"save", "preview"}:
        subject, body = request.form.get("subject", ""), request.form.get("body", "").replace("\r\n", "\n")
    try:
        if action == "save":
            templates.save_template(kind, channel, locale, subject, body, g.user)
            flash("Template saved.", "ok")
            return redirect(url_for("web.template_edit", kind=kind, channel=channel, locale=locale))
        if action == "reset":
            templates.reset_template(kind, channel, locale, g.user)
            flash("Template reset to the shipped wording.", "ok")
            return redirect(url_for("web.template_edit", kind=kind, channel=channel, locale=locale))
        if action == "preview":
            templates.validate_template(kind, channel, locale, subject, body)
    except AppError as error:
        flash_error(error)
        status = error.status
    overrides = {**templates.load_overrides(),
                 (kind, channel, locale): (subject if channel in templates.WITH_SUBJECT else "", body)}
    shown = templates.preview(kind, [channel], [locale],
                              templates.sample_context(locale, kind=kind), overrides)[channel][locale]
    return render_template("message_template_edit.html", kind=kind, channel=channel, locale=locale,
                           current=current, subject=subject, body=body, preview=shown,
                           has_subject=channel in templates.WITH_SUBJECT), status
