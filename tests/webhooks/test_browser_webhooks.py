"""The Webhooks and Audit pages in a real browser: register an endpoint with the form, read its
secret once, send a test event and see it in the delivery log; find the change on the Audit page."""
from __future__ import annotations

import re

import pytest
from standardwebhooks.webhooks import Webhook

from incident.webhooks import sender

from ..helpers import PASSWORD, log_in

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) these tests
    expect = None

pytestmark = pytest.mark.browser


def test_register_test_and_audit_a_webhook(app, page, live_server, make_user, receiver, monkeypatch, console_errors):
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE_TARGETS", True)
    make_user("root@example.com", role="admin", password=PASSWORD)
    page.goto(f"{live_server}/webhooks")
    log_in(page, "root@example.com", PASSWORD)
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("incident.declared").check()
    page.get_by_label("Description").fill("Ops bridge")
    page.get_by_role("button", name="Add webhook").click()
    secret = page.locator("#secret-value").inner_text()
    assert secret.startswith("whsec_")
    expect(page.locator("#webhooks")).to_contain_text("Ops bridge")

    page.get_by_role("button", name="Send test event").first.click()
    expect(page.get_by_role("heading", name=re.compile("Deliveries to webhook"))).to_be_visible()
    expect(page.locator("#webhook-deliveries")).to_contain_text("webhook.test")
    sender.dispatch_due(app)
    assert Webhook(secret).verify(receiver.requests[0].body, receiver.requests[0].headers)["type"] == "webhook.test"
    page.reload()
    expect(page.locator("#webhook-deliveries")).to_contain_text("sent")

    page.get_by_role("link", name="Audit").click()
    page.get_by_label("What").select_option("webhook")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#audit-entries")).to_contain_text("root@example.com")
    expect(page.locator("#audit-entries tbody tr")).to_have_count(1)
    assert "/audit.csv?kind=webhook" in page.locator("#audit-csv").get_attribute("href")
    assert secret not in page.content()
    assert console_errors == []
