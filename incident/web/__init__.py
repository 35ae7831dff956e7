"""The staff web UI: server-rendered pages, CSRF on every form, escaped everywhere."""
from __future__ import annotations

from flask import Flask

from ..auth import oidc
from ..auth.access import current_user, load_session_user
from ..roles.policy import ROLES
from . import (  # noqa: F401  (they add their pages)
    audit,
    broadcasts,
    customers,
    escalation,
    helpdesk,
    known_issues,
    message_templates,
    reports,
    reviews,
    routes,
    sso,
    staff,
    tickets,
    webhooks,
)
from .blueprint import bp
from .filters import age, security_headers, when


def init_app(app: Flask) -> None:
    oidc.init_app(app)
    app.register_blueprint(bp)
    app.before_request(load_session_user)
    app.after_request(security_headers)
    app.jinja_env.filters["age"] = age
    app.jinja_env.filters["when"] = when
    app.context_processor(lambda: {"current_user": current_user(), "ROLE_LABELS": ROLES,
                                   "sso_enabled": oidc.enabled(),
                                   "password_login": app.config["PASSWORD_LOGIN"]})
