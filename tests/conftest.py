"""Fixtures: a real database (SQLite file, or PostgreSQL from TEST_DATABASE_URL), the app,
clients that carry a bearer token, factories, and a clock that tests move by hand."""
from __future__ import annotations

import os
from datetime import datetime, timezone

import flask_migrate
import pytest
from sqlalchemy import create_engine, text

from incident import clock, create_app
from incident.extensions import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)


def normalize_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def reset_schema(url: str) -> None:
    """Start from an empty database: nothing left from an earlier run."""
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if TEST_DATABASE_URL:
        return normalize_url(TEST_DATABASE_URL)
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "tocsin-test.sqlite3")


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    reset_schema(database_url)
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "PUBLIC_BASE_URL": "http://tocsin.test",
    })
    with app.app_context():
        flask_migrate.upgrade()  # the schema comes only from the migrations
    yield app
    with app.app_context():
        db.engine.dispose()


def truncate(app) -> None:
    with app.app_context():
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for name in tables:
                    conn.execute(text(f"DELETE FROM {name}"))
        db.session.remove()


@pytest.fixture(autouse=True)
def _clean(request):
    """Every test starts with empty tables and a running clock."""
    yield
    clock.unfreeze()
    if "app" in request.fixturenames:
        truncate(request.getfixturevalue("app"))


@pytest.fixture
def ctx(app):
    """An app context for service-level tests (HTTP tests use the client instead)."""
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def frozen():
    """The clock stopped at T0; tests move it with clock.advance()."""
    clock.freeze(T0)
    yield T0
    clock.unfreeze()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Api:
    """A test client that sends a bearer token and JSON."""

    def __init__(self, client, token: str | None, email: str | None = None):
        self.client, self.token, self.email = client, token, email

    def _headers(self, extra=None):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(extra or {})
        return headers

    def get(self, path, **kw):
        return self.client.get(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, path, **kw):
        return self.client.delete(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path, json=None, **kw):
        return self.client.post(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, path, json=None, **kw):
        return self.client.put(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def patch(self, path, json=None, **kw):
        return self.client.patch(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def make_user(app):
    """Create a staff member; returns (user id, email)."""
    from incident.auth.service import create_user

    counter = iter(range(1, 10_000))

    def make(email=None, *, role="lead", password=None, name="", phone=None, slack_id=None):
        email = email or f"staff{next(counter)}@example.com"
        with app.app_context():
            user = create_user(email, role=role, name=name, password=password, phone=phone, slack_id=slack_id)
            return user.id, user.email

    return make


@pytest.fixture
def api_as(app, client, make_user):
    """api_as("lead") -> an Api client for a new staff member with that permission role."""
    from incident.auth.service import create_token

    def make(role="lead", email=None):
        _, email = make_user(email, role=role)
        with app.app_context():
            token = create_token(email)
        return Api(client, token, email)

    return make


@pytest.fixture
def api(api_as):
    """A lead's API client: can declare, assign roles, post updates."""
    return api_as("lead", "lead@example.com")


def count_rows(app, *tables: str) -> dict[str, int]:
    with app.app_context():
        with db.engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in tables}


# Browser fixtures (live_server, browser, page), registered once for every module.
from .browser_support import browser, live_server, page  # noqa: E402,F401
from .fixtures import console_errors, crowd, hooks, hooks_app, setup  # noqa: E402,F401
from .stand_ins import slack_server, smtp_server, twilio_api  # noqa: E402,F401
from .zendesk_stand_in import zendesk  # noqa: E402,F401


@pytest.fixture
def channels(app):
    """Sandbox channels that record every message the dispatcher sends."""
    from incident.outbox.channels.sandbox import SandboxChannel

    recorded = {name: SandboxChannel(name, keep=None) for name in ("slack", "sms", "email", "ticket", "voice")}
    app.extensions["tocsin_channels"] = recorded
    yield recorded
    app.extensions.pop("tocsin_channels", None)


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch):
    """Any attempt to resolve a host that is not this machine fails the test: no test reaches the internet."""
    import socket

    real = socket.getaddrinfo
    local = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}

    def guarded(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name not in local and not name.startswith("127."):
            raise AssertionError(f"a test tried to reach {name!r}: use a loopback stand-in or responses")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
