"""Single sign-on pages: off to the provider, and back with the code (OpenID Connect)."""
from __future__ import annotations

from flask import abort, flash, make_response, render_template, request, session

from ..auth import oidc
from ..auth.service import sign_in_with_sso
from ..errors import AppError
from .blueprint import bp
from .routes import _safe_next, start_browser_session

NEXT_KEY = "oidc_next"


@bp.get("/login/oidc")
def login_oidc():
    if not oidc.enabled():
        abort(404)
    try:
        response = oidc.redirect_to_provider()
    except oidc.SsoFailed as error:
        return _refused(error)
    session[NEXT_KEY] = _safe_next(request.args.get("next"))
    return response


@bp.get("/login/oidc/callback")
def login_oidc_callback():
    if not oidc.enabled():
        abort(404)
    next_page = session.pop(NEXT_KEY, None)
    try:
        token = sign_in_with_sso(oidc.identity_from_callback())
    except AppError as error:
        return _refused(error)
    return start_browser_session(token, next_page)


def _refused(error: AppError):
    """The login page again, saying why single sign-on did not let them in; nothing was written."""
    flash(f"Single sign-on failed: {error.message}", "error")
    return make_response(render_template("login.html", next=""), error.status)
