"""Tocsin: the room a support organisation works from during an outage.

create_app() only wires things together: no scheduler, no migrations, no network.
"""
from __future__ import annotations

import os

from flask import Flask
from werkzeug.routing import IntegerConverter

# Wiring only: importing a package has no side effect beyond defining its models and views, plus
# the few registrations named below.
from . import catalog, cli, errors, health, heartbeat, locales, metrics, openapi, security  # noqa: F401  (models register their tables)
from . import config as config_module
from .alerts import models as _alert_models  # noqa: F401
from .alerts import routes as alert_routes
from .api import refuse_nul_in_url
from .audit import models as _audit_models  # noqa: F401
from .audit import routes as audit_routes
from .broadcast import models as _broadcast_models  # noqa: F401
from .broadcast import routes as broadcast_routes
from .customers import models as _customer_models  # noqa: F401
from .customers import routes as customer_routes
from .escalation import models as _escalation_models  # noqa: F401
from .escalation import routes as escalation_routes
from .escalation import triggers as _triggers  # noqa: F401  (trigger words listen for linked tickets)
from .extensions import csrf, db, migrate
from .helpdesk import models as _helpdesk_models  # noqa: F401
from .helpdesk import replies as _helpdesk_replies  # noqa: F401  (the broadcast channel `ticket`)
from .helpdesk import routes as helpdesk_routes
from .helpdesk import sync as _helpdesk_sync  # noqa: F401  (queues helpdesk jobs on link, unlink, merge, resolve)
from .helpdesk import webhook as zendesk_hook
from .incidents import models as _incident_models  # noqa: F401
from .incidents import routes as incident_routes
from .incidents import slack_rooms as _rooms  # noqa: F401  (registers how the outbox opens rooms)
from .integrations import slack as slack_hooks
from .integrations import twilio as twilio_hooks
from .integrations import twilio_voice as voice_hooks
from .known_issues import matching as _known_issue_matching  # noqa: F401  (flags new tickets like a known issue)
from .known_issues import models as _known_issue_models  # noqa: F401
from .known_issues import routes as known_issue_routes
from .logconfig import configure_logging
from .outbox import models as _outbox_models  # noqa: F401
from .reports import routes as report_routes
from .reviews import models as _review_models  # noqa: F401
from .reviews import routes as review_routes
from .reviews import service as _reviews  # noqa: F401  (resolving a major incident opens its review)
from .roles import models as _role_models  # noqa: F401
from .roles import routes as role_routes
from .status import api as status_api
from .status import hooks as _status_hooks  # noqa: F401  (the status page listens for incident changes)
from .status import models as _status_models  # noqa: F401
from .status import notify as _status_notify  # noqa: F401  (public updates reach the subscribers)
from .status import routes as status_routes
from .status import snapshot as status_snapshot
from .status import web as status_web
from .tickets import models as _ticket_models  # noqa: F401
from .tickets import routes as ticket_routes
from .tickets import service as _tickets  # noqa: F401  (linked tickets are solved on resolve)
from .tickets.models import include_object
from .validation import MAX_KEY
from .web import init_app as init_web
from .webhooks import events as _webhook_events  # noqa: F401  (changes become webhook events)
from .webhooks import models as _webhook_models  # noqa: F401
from .webhooks import routes as webhook_routes

MIGRATIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "migrations"))

def create_app(test_config: dict | None = None) -> Flask:
    """Build the Flask app from the environment (or `test_config`)."""
    app = Flask(__name__, instance_relative_config=True,
                template_folder="web/templates", static_folder="web/static")
    os.makedirs(app.instance_path, exist_ok=True)
    settings = config_module.load_settings(test_config)  # ConfigError names a bad variable
    app.config.update(config_module.DEFAULTS)
    app.config.update(settings.to_config(app.instance_path))
    if test_config:  # typed values for the settings, and Flask's own keys as given
        settings_names = config_module.Settings.model_fields
        app.config.update({key: value for key, value in test_config.items() if key not in settings_names})
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT, secrets=settings.secret_values())
    locales.configure(default=app.config["DEFAULT_LOCALE"], extra_dirs=app.config["LOCALE_DIRS"])

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True, compare_type=True,
                     include_object=include_object)
    csrf.init_app(app)
    security.init_app(app)  # the body limit goes ahead of CSRF, which reads the form

    errors.init_app(app)
    app.before_request(refuse_nul_in_url)
    cli.init_app(app)
    app.url_map.converters["int"] = _KeyInt  # before any route is added
    _register_blueprints(app)
    return app


class _KeyInt(IntegerConverter):
    """`<int:…>` in a URL: a number beyond what an integer key holds reads as 0, which no row has, so
    it is a 404 (not a 500 from the database, nor a 405 from Werkzeug when a converter refuses it)."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        return number if number <= MAX_KEY else 0


def _register_blueprints(app: Flask) -> None:
    for blueprint in (incident_routes.bp, role_routes.bp, ticket_routes.bp, escalation_routes.bp,
                      broadcast_routes.bp, customer_routes.bp, helpdesk_routes.bp, review_routes.bp,
                      known_issue_routes.bp, report_routes.bp, audit_routes.bp, webhook_routes.bp, openapi.bp):
        csrf.exempt(blueprint)  # bearer tokens, not cookies: no cross-site forgery to stop
        app.register_blueprint(blueprint)
    for blueprint in (slack_hooks.bp, twilio_hooks.bp, voice_hooks.bp, zendesk_hook.bp, alert_routes.hooks,
                      broadcast_routes.public):
        # providers sign their requests, and an unsubscribe link is signed: the signature is checked instead
        csrf.exempt(blueprint)
        app.register_blueprint(blueprint)
    app.register_blueprint(health.bp)
    app.register_blueprint(alert_routes.web)   # a form on the dashboard: CSRF applies
    init_web(app)
    csrf.exempt(status_api.bp)  # bearer tokens, like the rest of /api/v1
    for blueprint in (status_api.bp, status_routes.bp, status_web.bp):
        app.register_blueprint(blueprint)
    status_snapshot.init_app(app)  # the public page's refresh storms are answered before Flask
    metrics.init_app(app)
