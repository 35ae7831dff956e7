"""Single sign-on in a real browser: the SSO button, the round trip through the loopback provider
(the session cookie survives the cross-site redirect back), and the dashboard with the mapped role."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from .oidc_provider import Person

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) these tests
    expect = None

pytestmark = pytest.mark.browser


@pytest.fixture
def sso_server(sso_app, provider, monkeypatch):
    server = make_server("127.0.0.1", 0, sso_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.port}"
    monkeypatch.setitem(sso_app.config, "PUBLIC_BASE_URL", base)   # the redirect URI the provider sends back to
    monkeypatch.setitem(sso_app.config, "PASSWORD_LOGIN", False)
    provider.reset()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_sign_in_with_single_sign_on(page, sso_server, provider, console_errors):
    provider.person = Person(email="lena@example.com", name="Lena Lead", groups=["support-leads"])
    page.goto(f"{sso_server}/incidents")
    expect(page.locator("input[name=password]")).to_have_count(0)
    page.get_by_role("link", name="Sign in with single sign-on").click()
    expect(page).to_have_url(f"{sso_server}/incidents")
    expect(page.locator("header.top")).to_contain_text("Lena Lead (lead)")
    assert console_errors == []

    provider.person = Person(email="mark@example.com", groups=["marketing"])
    page.context.clear_cookies()
    page.goto(f"{sso_server}/login")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    expect(page.locator(".flash.error")).to_contain_text("None of your groups (marketing) has a role in Tocsin.")
    assert all("status of 403" in error for error in console_errors)   # the refusal page's own status, nothing else
