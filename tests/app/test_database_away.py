"""The database away (restarting, its connections killed): 503 with a clear body and Retry-After,
never a 500; once it is back, the pool reconnects without anyone restarting Tocsin."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from incident import create_app
from incident.extensions import db

from ..conftest import TEST_DATABASE_URL


@pytest.fixture
def unreachable(tmp_path):
    """An app whose database cannot be reached (nothing listens there; SQLite: a file it cannot open)."""
    url = ("postgresql+psycopg://postgres@127.0.0.1:9/test?connect_timeout=2" if TEST_DATABASE_URL
           else f"sqlite:///{tmp_path}/missing/directory/tocsin.db")
    return create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})


def test_the_api_and_the_pages_answer_503_while_the_database_is_away(unreachable):
    client = unreachable.test_client()
    api = client.get("/api/v1/incidents", headers={"Authorization": "Bearer tcs_whatever"})
    assert api.status_code == 503 and api.headers["Retry-After"] == "5"
    assert api.get_json()["error"]["code"] == "database_unavailable"
    page = client.get("/login")
    assert page.status_code in (200, 503)            # the login form itself needs no database
    status = client.get("/api/v2/summary.json")
    assert status.status_code == 503 and "database is unavailable" in status.get_data(as_text=True)
    assert client.get("/healthz").status_code == 503


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="killing connections needs PostgreSQL")
def test_killed_connections_are_replaced_by_the_next_request(app, api):
    assert api.get("/api/v1/incidents").status_code == 200
    with app.app_context():
        with db.engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            admin.commit()
    assert api.get("/api/v1/incidents").status_code == 200   # the pool noticed and reconnected


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="killing connections needs PostgreSQL")
def test_a_connection_killed_after_the_last_query_still_gets_its_answer(database_url):
    """The request has read what it needed; its connection is killed before the request ends. Closing the
    session must not try a rollback on the dead socket and turn the answer into a 500 (as a soak with
    pg_terminate_backend every minute saw on /status)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": database_url})
    outside = create_engine(database_url, poolclass=NullPool)

    @app.get("/_read_then_lose_the_connection")
    def read_then_lose_the_connection():
        db.session.execute(text("SELECT 1"))
        with outside.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            conn.commit()
        return "read"

    client = app.test_client()
    try:
        for _ in range(2):   # and the next request gets a new connection
            response = client.get("/_read_then_lose_the_connection")
            assert response.status_code == 200 and response.get_data(as_text=True) == "read"
    finally:
        outside.dispose()
        with app.app_context():
            db.engine.dispose()
