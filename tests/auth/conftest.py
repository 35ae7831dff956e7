"""An app with single sign-on configured against the loopback provider, on the test database."""
from __future__ import annotations

import pytest

from incident import create_app
from incident.extensions import db

from .oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider

ROLE_MAP = "oncall=engineer,support-leads=lead,tocsin-admins=admin"


@pytest.fixture(scope="module")
def provider():
    running = OidcProvider().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sso_app(app, provider):
    """A second app on the session app's database, with OIDC_* pointing at the loopback provider."""
    keys = ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "PUBLIC_BASE_URL")
    own = create_app({**{key: app.config[key] for key in keys}, "OIDC_ISSUER": provider.issuer,
                      "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET,
                      "OIDC_ALLOWED_DOMAINS": "example.com", "OIDC_ROLE_MAP": ROLE_MAP})
    yield own
    with own.app_context():
        db.engine.dispose()


@pytest.fixture
def sso(sso_app, provider, monkeypatch):
    """A browser-like client of the SSO app; the provider forgets the last test's person and mischief."""
    provider.reset()
    monkeypatch.setitem(sso_app.config, "PASSWORD_LOGIN", True)
    return sso_app.test_client()
