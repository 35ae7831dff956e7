"""The public status page, its Atom feed, the Statuspage-compatible /api/v2 and self-service
subscriptions. No login. The page, feed and JSON come from the snapshot, with an ETag."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, session, url_for

from .. import locales
from ..errors import AppError
from . import i18n, manage, subscriptions
from .service import list_components
from .snapshot import snapshot_for
from .statuspage import NAMES

bp = Blueprint("status", __name__)


def _cached(name: str, mimetype: str, *, vary: str | None = None, cors: bool = False) -> Response:
    # current_app is a LocalProxy, typed as the app it stands for
    body, etag = snapshot_for(current_app._get_current_object()).get(name)  # type: ignore[attr-defined]
    headers = {"ETag": etag, "Cache-Control": current_app.config["STATUS_CACHE_CONTROL"]}
    if vary:
        headers["Vary"] = vary
    if cors:
        headers["Access-Control-Allow-Origin"] = "*"
    # The body is the same for everyone: the staff session that the app's before_request looked at
    # must not add "Vary: Cookie", or no shared cache would hold it.
    session.accessed = False
    if request.if_none_match and request.if_none_match.contains_weak(etag.strip('"')):
        return Response(status=304, headers=headers)
    return Response(body, 200, headers=headers, mimetype=mimetype)


@bp.get("/status")
def page():
    locale = i18n.pick_locale(request.args.get("lang"), request.accept_languages)
    return _cached(f"page.{locale}", "text/html", vary="Accept-Language")


@bp.get("/status/feed.atom")
def feed():
    return _cached("feed.atom", "application/atom+xml")


@bp.get("/api/v2/<path:name>")
def api_v2(name):
    if name not in NAMES:
        abort(404)
    return _cached(name, "application/json", cors=True)


# --- subscriptions (never cached: they carry a CSRF token) ---------------------------------

def _locale() -> str:
    return i18n.pick_locale(request.values.get("lang"), request.accept_languages)


def _render(template: str, status: int = 200, **values):
    locale = values.pop("locale", None) or _locale()
    response = current_app.make_response((render_template(
        template, locale=locale, t=lambda key, **v: i18n.t(locale, key, **v),
        page_name=current_app.config["STATUS_PAGE_NAME"], **values), status))
    response.headers["Cache-Control"] = "no-store"
    return response


def _form_components():
    return [c for c in list_components() if not c.is_group]


@bp.route("/status/subscribe", methods=["GET", "POST"])
def subscribe():
    locale = _locale()
    if request.method == "GET":
        return _render("status/subscribe.html", locale=locale, components=_form_components(), form={})
    form = {"channel": request.form.get("channel", ""), "address": request.form.get("address", ""),
            "components": request.form.getlist("components")}
    try:
        started = subscriptions.start_subscription(
            channel=form["channel"], address=form["address"][:300], components=form["components"][:200],
            locale=locale, client=request.remote_addr or "")
    except AppError as error:
        return _render("status/subscribe.html", status=error.status, locale=locale, components=_form_components(),
                       form=form, error=error.message)
    if started["channel"] == "sms":
        return redirect(url_for("status.verify", handle=started["handle"], lang=locale), code=303)
    return _render("status/done.html", locale=locale,
                   message=i18n.t(locale, "sub.check_email", address=started["address"]))


@bp.route("/status/subscribe/confirm/<token>", methods=["GET", "POST"])
def confirm(token):
    try:
        if request.method == "GET":
            sub = subscriptions.check_link(token)
            return _render("status/confirm.html", locale=sub.locale, action=request.path)
        sub = subscriptions.confirm_link(token)
    except AppError as error:
        return _render("status/done.html", status=error.status, message=i18n.t(_locale(), "sub.invalid"))
    return _render("status/done.html", locale=sub.locale, message=i18n.t(sub.locale, "sub.done"))


@bp.route("/status/subscribe/verify/<handle>", methods=["GET", "POST"])
def verify(handle):
    locale = _locale()
    try:
        sub = subscriptions.check_handle(handle)
    except AppError as error:
        return _render("status/done.html", status=error.status, message=i18n.t(locale, "sub.invalid"))
    prompt = i18n.t(sub.locale, "sub.enter_code", address=sub.address[:3] + "…" + sub.address[-2:])
    if request.method == "GET":
        return _render("status/verify.html", locale=sub.locale, prompt=prompt)
    try:
        sub = subscriptions.confirm_code(handle, request.form.get("code", "")[:20])
    except subscriptions.TooManyRequests as error:
        return _render("status/done.html", status=error.status, message=i18n.t(sub.locale, "sub.too_many"))
    except AppError as error:
        return _render("status/verify.html", status=error.status, locale=sub.locale, prompt=prompt,
                       error=i18n.t(sub.locale, "sub.bad_code") if error.code == "wrong_code"
                       else i18n.t(sub.locale, "sub.invalid"))
    return _render("status/done.html", locale=sub.locale, message=i18n.t(sub.locale, "sub.done"))


@bp.route("/status/subscription/<token>", methods=["GET", "POST"])
def manage_subscription(token):
    """A subscriber's own page (the signed link in every status message): change components, or leave."""
    try:
        customer, channel = manage.subscriber(token)
    except AppError as error:
        return _render("status/subscription.html", status=error.status, invalid=True)
    locale = locales.language_for(customer.locale)
    status, done, error_text = 200, None, None
    if request.method == "POST":
        action = request.form.get("action", "")
        try:
            if action == "leave":
                customer, _ = manage.leave(token)
                done = "left"
            else:
                customer = manage.choose_components(token, request.form.getlist("components")[:500])
                done = "saved"
        except AppError as error:
            status = error.status
            error_text = i18n.t(locale, "manage.none_ticked" if error.code == "no_components" else "sub.bad_component")
    channel_name = i18n.t(locale, f"channel.{channel}")
    return _render("status/subscription.html", status=status, locale=locale, invalid=False, done=done,
                   error=error_text, channel=channel_name, address=customer.address(channel) or "",
                   components=manage.components(), followed=manage.followed(customer))
