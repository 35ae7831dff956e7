"""Behind HTTPS: HSTS and no-store on staff pages and the API, not on the public page's cacheable
answers; and TRUSTED_PROXIES, so per-client limits see the real address and not one a client wrote."""
from __future__ import annotations

import pytest

from incident import create_app
from incident.extensions import db

from ..conftest import Api, count_rows
from ..helpers import logged_in
from ..status_helpers import component
from ..web_helpers import csrf_from

HSTS = "Strict-Transport-Security"
HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}


@pytest.fixture(scope="module")
def proxied_app(app):
    """The app as configured behind one reverse proxy (TRUSTED_PROXIES=1), on the suite's database."""
    keys = ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "PUBLIC_BASE_URL")
    own = create_app({**{key: app.config[key] for key in keys}, "TRUSTED_PROXIES": 1})
    yield own
    with own.app_context():
        db.engine.dispose()


def test_staff_pages_and_the_api_are_never_stored(client, make_user, api):
    logged_in(client, make_user)
    for response in (client.get("/"), client.get("/tickets"), client.get("/login"),
                     api.get("/api/v1/incidents"), api.get("/api/openapi.json"), client.get("/nowhere")):
        assert response.headers["Cache-Control"] == "no-store", response.request.path
    assert "no-store" not in client.get("/static/tocsin.css").headers.get("Cache-Control", "")


def test_no_hsts_over_plain_http_even_when_a_client_claims_https(client, api):
    for response in (client.get("/login"), api.get("/api/v1/incidents"), client.get("/login", headers=HTTPS)):
        assert HSTS not in response.headers


def test_hsts_over_https_on_staff_pages_and_the_api(client, api, make_user):
    logged_in(client, make_user)
    for path in ("/login", "/", "/api/v1/incidents", "/healthz"):
        response = api.get(path, base_url="https://tocsin.test")
        assert response.headers[HSTS] == "max-age=31536000", path
        assert response.headers["Cache-Control"] == "no-store", path


def test_the_public_page_stays_cacheable_and_without_hsts(client, api, frozen):
    component(api, "Login")
    for _ in range(2):   # the first answer is rendered, the second comes from the snapshot's fast path
        for path in ("/status", "/status/feed.atom", "/api/v2/summary.json"):
            response = client.get(path, base_url="https://tocsin.test")
            assert response.status_code == 200
            assert response.headers["Cache-Control"].startswith("public"), path
            assert HSTS not in response.headers, path
    assert client.get("/status/subscribe", base_url="https://tocsin.test").headers[HSTS]


def test_hsts_can_be_turned_off(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "HSTS_MAX_AGE", 0)
    assert HSTS not in client.get("/login", base_url="https://tocsin.test").headers


def test_behind_a_trusted_proxy_its_https_counts(proxied_app, app, make_user):
    client = proxied_app.test_client()
    behind = client.get("/login", headers=HTTPS)
    assert behind.headers[HSTS] == "max-age=31536000" and behind.headers["Cache-Control"] == "no-store"
    assert HSTS not in client.get("/login").headers                   # the proxy spoke plain HTTP
    assert HSTS not in client.get("/status", headers=HTTPS).headers   # public and cacheable


# The client's address ------------------------------------------------------------------------

def signup(client, address: str, forwarded_for: str | None = None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    token = csrf_from(client, "/status/subscribe")
    return client.post("/status/subscribe", data={"csrf_token": token, "channel": "email", "address": address},
                       headers=headers)


@pytest.fixture
def two_per_client(app, proxied_app, api, frozen, monkeypatch):
    component(api, "Login")
    for each in (app, proxied_app):
        monkeypatch.setitem(each.config, "STATUS_SIGNUPS_PER_CLIENT_PER_HOUR", 2)


def test_without_trusted_proxies_x_forwarded_for_is_ignored(app, client, two_per_client):
    """A client cannot escape the per-client limit by writing X-Forwarded-For itself."""
    assert signup(client, "a@example.com", "198.51.100.1").status_code == 200
    assert signup(client, "b@example.com", "198.51.100.2").status_code == 200
    assert signup(client, "c@example.com", "198.51.100.3").status_code == 429


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(app, proxied_app, two_per_client):
    client = proxied_app.test_client()
    assert signup(client, "a@example.com", "203.0.113.5").status_code == 200
    assert signup(client, "b@example.com", "203.0.113.5").status_code == 200
    assert signup(client, "c@example.com", "203.0.113.5").status_code == 429
    assert signup(client, "d@example.com", "203.0.113.6").status_code == 200   # another client behind the proxy
    # what the client itself wrote in front of the proxy's entry does not count: the last hop is the client
    assert signup(client, "e@example.com", "198.51.100.9, 203.0.113.5").status_code == 429
    assert count_rows(app, "status_subscriptions")["status_subscriptions"] == 3


def test_the_api_behind_a_trusted_proxy(proxied_app, api):
    proxied = Api(proxied_app.test_client(), api.token)
    response = proxied.get("/api/v1/incidents", headers=HTTPS)
    assert response.status_code == 200 and response.headers[HSTS] == "max-age=31536000"
