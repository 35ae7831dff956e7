"""The possible-outage box in a real browser: alerts from Alertmanager wait there by service, a
lead declares from it, and the incident's timeline reads the alerts (their text escaped)."""
from __future__ import annotations

import re

import pytest

from .support import alert, notification, send, token_for

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) these tests
    expect = None

pytestmark = pytest.mark.browser
LEAD = ("sam@example.com", "correct horse battery")


def test_a_lead_declares_from_the_alerts_in_the_box(page, live_server, app, client, make_user, console_errors):
    make_user(LEAD[0], role="lead", password=LEAD[1])
    hostile = alert("<script>window.pwned=1</script>", service="checkout", severity="critical",
                    fingerprint="b000000000000001")
    hostile["annotations"]["summary"] = "<img src=x onerror=window.pwned=1>"
    send(client, token_for(app), notification(
        hostile, alert("HighLatency", service="checkout", fingerprint="b000000000000002"),
        alert("DiskFull", service="billing", fingerprint="b000000000000003")))

    page.goto(f"{live_server}/login")
    page.locator("input[name=email]").fill(LEAD[0])
    page.locator("input[name=password]").fill(LEAD[1])
    page.get_by_role("button", name="Log in").click()
    box = page.locator("#possible-outages")
    checkout = box.locator('tr[data-alerts="checkout"]')
    expect(checkout).to_contain_text("2 firing: <script>window.pwned=1</script>, HighLatency")
    expect(box.locator('tr[data-alerts="billing"]')).to_contain_text("1 firing: DiskFull")
    checkout.get_by_label("Severity").select_option("SEV1")
    checkout.get_by_role("button", name="Declare and attach 2").click()

    expect(page).to_have_url(re.compile(r"/incidents/\d+$"))
    expect(page.locator("body")).to_contain_text("2 alerts attached")
    expect(page.locator("body")).to_contain_text("firing: HighLatency · checkout · warning")
    expect(page.locator("body")).to_contain_text("<img src=x onerror=window.pwned=1>")
    assert page.evaluate("window.pwned") is None
    page.goto(f"{live_server}/")
    expect(page.locator('tr[data-alerts="checkout"]')).to_have_count(0)
    expect(page.locator('tr[data-alerts="billing"]')).to_have_count(1)
    assert console_errors == []
