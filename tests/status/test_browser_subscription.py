"""A subscriber's own page in real Chromium: reached from the link in their message, in their
language, components changed, then leaving; no CSP errors (no inline script or style)."""
from __future__ import annotations

import pytest

from ..status_helpers import component, component_ids, incident, update
from .test_status_subscribers import MANAGE, add_customer, notices

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) these tests
    expect = None

pytestmark = pytest.mark.browser


def test_a_subscriber_changes_components_then_leaves(app, api, browser, live_server, frozen):
    component(api, "Login", service="login")
    component(api, "Billing", service="billing")
    add_customer(app, services=["login"], email="jonas@example.ch", locale="de-CH")
    update(api, incident(api, "Login down", "SEV1", ["login"]), "Wir untersuchen.")
    path = MANAGE.search(notices(app)[0].text).group(1)
    ids = component_ids(api)

    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{live_server}{path}")
        expect(page.locator("html")).to_have_attribute("lang", "de")          # theirs, not the browser's
        expect(page.locator("h2")).to_have_text("Ihre Statusmeldungen")
        expect(page.locator(f'input[value="{ids["Login"]}"]')).to_be_checked()
        expect(page.locator(f'input[value="{ids["Billing"]}"]')).not_to_be_checked()
        page.locator(f'input[value="{ids["Login"]}"]').uncheck()
        page.locator(f'input[value="{ids["Billing"]}"]').check()
        page.get_by_role("button", name="Auswahl speichern").click()
        expect(page.locator("#manage-done")).to_contain_text("Gespeichert")
        expect(page.locator(f'input[value="{ids["Billing"]}"]')).to_be_checked()
        expect(page.locator(f'input[value="{ids["Login"]}"]')).not_to_be_checked()
        page.get_by_role("button", name="Von allem abmelden").click()
        expect(page.locator("#manage-done")).to_contain_text("keine Statusmeldungen mehr per E-Mail")
    finally:
        context.close()
    assert errors == []
