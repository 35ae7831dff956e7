"""The staff web UI: server-rendered pages, CSRF on every form, escaped everywhere."""
from __future__ import annotations

from flask import Flask

from ..auth.access import current_user, load_session_user
from ..roles.policy import ROLES
from . import audit as _audit  # noqa: F401  (the Audit page)
from . import broadcasts, escalation, helpdesk, known_issues, message_templates, reports, reviews, routes, tickets  # noqa: F401  (they add their pages)
from . import webhooks as _webhooks  # noqa: F401  (the Webhooks page)
from .blueprint import bp
from .filters import age, security_headers, when


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(load_session_user)
    app.after_request(security_headers)
    app.jinja_env.filters["age"] = age
    app.jinja_env.filters["when"] = when
    app.context_processor(lambda: {"current_user": current_user(), "ROLE_LABELS": ROLES})
