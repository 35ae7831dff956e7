"""The staff web UI: server-rendered pages, CSRF on every form, escaped everywhere."""
from __future__ import annotations

from flask import Flask

from ..auth.access import current_user, load_session_user
from ..clock import utcnow
from ..roles.policy import ROLES


def _age(value) -> str:
    seconds = int((utcnow() - value).total_seconds()) if value else 0
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        return f"{days} d {hours % 24} h"
    if hours:
        return f"{hours} h {minutes % 60} min"
    return f"{max(minutes, 0)} min"


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def init_app(app: Flask) -> None:
    from . import broadcasts, escalation, routes, tickets  # noqa: F401  (they add their pages to the blueprint)
    from . import message_templates  # noqa: F401  (customer message templates)

    app.register_blueprint(routes.bp)
    app.before_request(load_session_user)
    app.after_request(_security_headers)
    app.jinja_env.filters["age"] = _age
    app.jinja_env.filters["when"] = _when
    app.context_processor(lambda: {"current_user": current_user(), "ROLE_LABELS": ROLES})
