"""Fixtures several test modules use; conftest.py makes them available to every module."""
from __future__ import annotations

import pytest

from incident import create_app
from incident.extensions import db

from .helpers import POLICY, PUBLIC, SECRET, TWILIO_TOKEN, add_customers, declare


@pytest.fixture
def setup(api_as, make_user, frozen):
    """Staff with phones and Slack ids, two rotations and the default policy (as an admin would)."""
    make_user("amy@example.com", role="engineer", phone="+393471111111", slack_id="UAMY")
    make_user("bob@example.com", role="engineer", phone="+393472222222", slack_id="UBOB")
    make_user("dan@example.com", role="engineer", phone="+393473333333", slack_id="UDAN")
    admin = api_as("admin", "root@example.com")
    assert admin.put("/api/v1/rotations/support-l2", json={"users": ["bob@example.com"], "shift_hours": 168,
                                                           "starts_at": "2026-11-16T00:00:00+00:00"}).status_code == 200
    assert admin.put("/api/v1/rotations/backend-oncall", json={"users": ["dan@example.com"], "shift_hours": 24,
                                                               "starts_at": "2026-11-01T00:00:00+00:00"}).status_code == 200
    response = admin.put("/api/v1/escalation-policies/default", json=POLICY)
    assert response.status_code == 200, response.get_json()
    return admin


@pytest.fixture(scope="module")
def hooks_app(app):
    """The app with the webhook blueprints: the session app once create_app registers them; until
    then a second app on the same database, with them registered before its first request."""
    if "slack" in app.blueprints and "twilio" in app.blueprints:
        yield app
        return
    from incident.extensions import csrf
    from incident.integrations import slack, twilio

    keys = ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "PUBLIC_BASE_URL")
    own = create_app({key: app.config[key] for key in keys})
    for blueprint in (slack.bp, twilio.bp):
        csrf.exempt(blueprint)
        own.register_blueprint(blueprint)
    yield own
    with own.app_context():
        db.engine.dispose()


@pytest.fixture
def hooks(hooks_app, monkeypatch):
    """A client for the webhooks, with Slack and Twilio configured."""
    monkeypatch.setitem(hooks_app.config, "SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setitem(hooks_app.config, "TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
    monkeypatch.setitem(hooks_app.config, "PUBLIC_BASE_URL", PUBLIC)
    return hooks_app.test_client()


@pytest.fixture
def crowd(app, api, frozen):
    """An incident on `login` and five customers with different wishes."""
    incident = declare(api, services=["login"])
    ids = add_customers(
        app,
        {"name": "Ada", "email": "ada@example.com", "phone": "+393471000001", "channels": ["email", "sms"],
         "services": ["login"]},
        {"name": "Bruno", "phone": "+393471000002", "channels": ["sms"], "locale": "it", "services": ["login"]},
        {"name": "Acme", "slack": "C0ACME", "email": "ops@acme.example", "channels": ["slack", "email"],
         "segment": "enterprise", "services": ["login"]},
        {"name": "Carla", "email": "carla@example.com", "locale": "it", "channels": ["email"], "services": ["login"]},
        {"name": "Dev", "email": "dev@example.com", "phone": "+393471000005", "channels": ["email", "sms"],
         "opted_out": ["email"], "services": ["login"]},
        {"name": "Elsewhere", "email": "else@example.com", "channels": ["email"], "services": ["billing"]},
    )
    return incident, ids


@pytest.fixture
def console_errors(page):
    """Errors the page reports (script errors, CSP violations, failed loads)."""
    errors: list[str] = []

    def on_console(message):
        # The app serves no /favicon.ico; Chromium asks for one anyway and reports the 404.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors
