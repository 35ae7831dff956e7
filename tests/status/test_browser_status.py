"""The public status page in real Chromium: overall state, a component's history bars, an
incident's updates newest first, on a phone, in Italian by the browser's language, no CSP errors."""
from __future__ import annotations

from datetime import timedelta

import pytest

from incident import clock

from ..conftest import T0
from ..status_helpers import component, component_ids, incident, update

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) these tests
    expect = None

pytestmark = pytest.mark.browser


@pytest.fixture
def outage(app, api):
    app.config["STATUS_SNAPSHOT_CHECK_SECONDS"] = 0
    app.extensions.pop("status_snapshot", None)
    clock.freeze(T0 - timedelta(days=30))
    component(api, "Login", group="Core platform", description="Sign-in and SSO")
    component(api, "API", service="api")
    clock.freeze(T0 - timedelta(days=2))
    old = incident(api, "API errors", "SEV1", ["api"])
    update(api, old, "Errors on /v1", status="investigating")
    clock.advance(hours=1)
    update(api, old, "Fixed", status="resolved")
    clock.freeze(T0)
    now = incident(api, "Login <script>window.__pwned=1</script> failing", "SEV2", ["login"])
    update(api, now, "Looking into failed logins", status="investigating")
    clock.advance(minutes=20)
    update(api, now, "internal: blame the ACME deploy", public=False)
    update(api, now, "Bad deploy rolled back", status="monitoring")
    yield component_ids(api)
    app.extensions.pop("status_snapshot", None)


def errors_of(page):
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def test_status_page_on_a_phone(browser, live_server, outage):
    context = browser.new_context(viewport={"width": 375, "height": 800}, locale="en-GB")
    page = context.new_page()
    errors = errors_of(page)
    try:
        page.goto(f"{live_server}/status")
        expect(page.locator("#overall")).to_have_text("Partial system outage")
        incident = page.locator("article.incident")
        expect(incident).to_have_count(1)
        expect(incident.locator("h3")).to_have_text("Login <script>window.__pwned=1</script> failing")
        expect(incident.locator("li.update strong")).to_have_text(["Monitoring", "Investigating"])
        expect(incident.locator("li.update").first).to_contain_text("Bad deploy rolled back")
        expect(page.get_by_text("ACME")).to_have_count(0)
        assert page.evaluate("window.__pwned") is None

        login = page.locator(f"#component-{outage['Login']}")
        expect(login.locator(".state")).to_have_text("Partial outage")
        bars = login.locator(".bar")
        expect(bars).to_have_count(90)
        expect(login.locator('.bar[data-day="2026-11-22"]')).to_have_class("bar st-major")
        api_bars = page.locator(f"#component-{outage['API']} .bar")
        expect(page.locator(f'#component-{outage["API"]} .bar[data-day="2026-11-20"]')).to_have_class("bar st-critical")
        expect(page.locator(f'#component-{outage["API"]} .bar[data-day="2026-10-22"]')).to_have_class("bar st-nodata")
        box = api_bars.last.bounding_box()
        assert box and box["width"] >= 1 and box["height"] >= 16
        assert page.evaluate("document.documentElement.scrollWidth") <= 375   # no sideways scrolling
        history = page.get_by_role("img", name="API, last 90 days: 20 Nov 2026: Major outage")
        expect(history).to_have_count(1)
        assert errors == []
    finally:
        context.close()


def test_status_page_in_italian_with_a_switch(browser, live_server, outage):
    context = browser.new_context(locale="it-IT")
    page = context.new_page()
    try:
        page.goto(f"{live_server}/status")
        expect(page.locator("html")).to_have_attribute("lang", "it")
        expect(page.locator("#overall")).to_have_text("Disservizio parziale")
        expect(page.locator("article.incident li.update strong").first).to_have_text("Sotto osservazione")
        page.get_by_role("link", name="English").click()
        expect(page.locator("#overall")).to_have_text("Partial system outage")
        expect(page.locator("html")).to_have_attribute("lang", "en")
    finally:
        context.close()
