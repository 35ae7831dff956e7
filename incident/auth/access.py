"""Who is calling: bearer tokens for the API, sessions for the web UI."""
from __future__ import annotations

from functools import wraps

from flask import g, redirect, request, session, url_for

from ..errors import NotAllowed, Unauthorized
from ..security import bearer_token
from .models import User
from .service import user_for_token
from .sessions import session_user


def current_user() -> User | None:
    """The staff member behind this request (token or session), if any."""
    return g.get("user")


def _bearer_user() -> User | None:
    token = bearer_token()
    return user_for_token(token) if token else None


def api_auth(needed: str = "viewer"):
    """Require a valid bearer token whose user has the `needed` permission (401, then 403)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = _bearer_user()
            if user is None:
                raise Unauthorized("A valid API token is required (Authorization: Bearer <token>).")
            if not user.can(needed):
                raise NotAllowed(f"This needs the {needed} permission; you are {user.role}.")
            g.user = user
            return view(*args, **kwargs)

        return wrapper

    return decorator


def load_session_user() -> None:
    """Put the logged-in staff member (if any) on `g` for web pages."""
    token = session.get("sid")
    if token is None:
        if "pw" in session:
            session.clear()  # a cookie from before sessions were kept on the server held a piece of the hash
        return
    user = session_user(token)
    if user is None:
        session.clear()  # logged out, idle too long, deactivated or password changed: the session ended
        return
    g.user = user


def login_required(needed: str = "viewer"):
    """Require a logged-in staff member with the `needed` permission."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if not user.can(needed):
                raise NotAllowed(f"This needs the {needed} permission; you are {user.role}.")
            return view(*args, **kwargs)

        return wrapper

    return decorator
