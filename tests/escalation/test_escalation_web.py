"""Escalation in the staff UI: the clocks, escalate and acknowledge, the simulator, the sandbox outbox."""
from __future__ import annotations

import re

import pytest

from incident import worker

from ..helpers import declare, logged_in
from ..web_helpers import post_form

try:
    from playwright.sync_api import expect
except ImportError:
    expect = None


def test_incident_page_shows_clocks_and_escalates(app, client, make_user, api, setup, channels):  # noqa: F811
    logged_in(client, make_user, role="engineer", email="sam@example.com")
    incident_id = declare(api)["id"]
    room = f"/incidents/{incident_id}"
    assert "Not escalated" in client.get(room).get_data(as_text=True)
    post_form(client, f"{room}/escalate", {"level": "", "reason": "L1 is stuck"}, page=room)
    page = client.get(room).get_data(as_text=True)
    assert 'id="next-deadline" datetime="2026-11-22T10:00:00+00:00"' in page
    assert 'data-level="L1"' in page
    post_form(client, f"{room}/acknowledge", {}, page=room)
    page = client.get(room).get_data(as_text=True)
    assert "the clock is stopped" in page
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["escalation"]["state"] == "acknowledged"


def test_simulator_page(client, make_user, setup):  # noqa: F811
    logged_in(client, make_user, role="viewer", email="eve@example.com")
    response = post_form(client, "/escalation", {"severity": "SEV1", "services": "login", "mode": "tiered",
                                                 "at": "2026-11-28T02:00:00+00:00"}, page="/escalation")
    page = response.get_data(as_text=True)
    assert "2026-11-28 02:00" in page and "amy@example.com" in page and "bob@example.com" in page
    assert "on call now" in page


def test_outbox_shows_sandboxed_pages_and_acknowledges(app, client, make_user, api, setup, channels):  # noqa: F811
    logged_in(client, make_user, role="engineer", email="sam@example.com")
    incident_id = declare(api, title="Payments <b>down</b>")["id"]
    api.post(f"/api/v1/incidents/{incident_id}/escalate", json={})
    worker.tick(app)
    page = client.get("/outbox").get_data(as_text=True)
    assert "Sandbox:" in page and "Reply ACK" in page and "&lt;b&gt;down&lt;/b&gt;" in page
    assert f"Acknowledge INC-{incident_id}" in page
    response = post_form(client, f"/incidents/{incident_id}/acknowledge", {"via": "sandbox", "back": "/outbox"},
                         page="/outbox")
    assert response.headers["Location"] == "/outbox"
    view = api.get(f"/api/v1/incidents/{incident_id}/escalation").get_json()
    assert view["acknowledgements"][0]["via"] == "sandbox"


@pytest.mark.browser
def test_countdown_and_acknowledgement_from_the_sandbox(app, page, live_server, make_user, api, setup, channels):  # noqa: F811
    """Real Chromium: the SLA clock counts down, and the on-call engineer acknowledges from the outbox."""
    from incident import clock

    clock.unfreeze()  # the page's clock is the browser's: deadlines must be real
    make_user("sam@example.com", role="engineer", password="correct horse battery")
    incident_id = declare(api, title="Checkout failing")["id"]
    api.post(f"/api/v1/incidents/{incident_id}/escalate", json={})
    worker.tick(app)

    page.goto(f"{live_server}/login")
    page.locator("input[name=email]").fill("sam@example.com")
    page.locator("input[name=password]").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server}/incidents/{incident_id}")
    deadline = page.locator("#next-deadline")
    expect(deadline).to_have_text(re.compile(r"^59:\d\d left$"))
    first = deadline.text_content()
    expect(deadline).not_to_have_text(first)  # it ticks

    page.get_by_role("link", name="Outbox").click()
    expect(page.locator("#outbox")).to_contain_text("Reply ACK")
    page.get_by_role("button", name=f"Acknowledge INC-{incident_id}").first.click()
    expect(page.locator("p.flash.success")).to_have_text("Acknowledged: the clock has stopped.")
    page.goto(f"{live_server}/incidents/{incident_id}")
    expect(page.locator("#escalation")).to_contain_text("the clock is stopped")
    expect(page.locator("#timeline")).to_contain_text("via sandbox")
