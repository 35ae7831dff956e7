"""A lead in a real browser records a known issue on the incident page; customers read its workaround on
the status page; the next ticket that looks like it is flagged in the tickets view; staff find the entry."""
from __future__ import annotations

import pytest

from ..factories import ticket
from ..helpers import log_in
from ..status_helpers import component, update

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) these tests
    expect = None

pytestmark = pytest.mark.browser

LEAD = {"email": "sam@example.com", "password": "correct horse battery"}
WORKAROUND = "Sign in from the mobile app until this is fixed."


def test_record_publish_flag_and_find_a_known_issue(page, live_server, make_user, api, console_errors):
    make_user(LEAD["email"], role="lead", password=LEAD["password"])
    component(api, "Login", service="login")
    incident_id = api.post("/api/v1/incidents", json={"title": "Login failing", "severity": "SEV2",
                                                      "services": ["login"]}).get_json()["id"]
    update(api, incident_id, "We are looking into failed logins.", status="investigating")

    page.goto(f"{live_server}/login")
    log_in(page, LEAD["email"], LEAD["password"])
    page.goto(f"{live_server}/incidents/{incident_id}")
    section = page.locator("#known-issue")
    expect(section).to_contain_text("No known-issue record yet")
    form = section.locator("#known-issue-form")
    form.locator("textarea[name=workaround]").fill(WORKAROUND)
    form.locator("textarea[name=symptoms]").fill("502 after the SSO redirect")
    form.locator("textarea[name=cause]").fill("INTERNAL: the session service deploy")
    form.locator("input[name=tags]").fill("")
    form.locator("textarea[name=match_phrases]").fill("error 502")
    form.get_by_role("button", name="Save").click()
    expect(page.locator(".flash.success")).to_contain_text("Known issue saved")
    expect(page.locator("#known-issue-workaround")).to_have_text(WORKAROUND)

    page.goto(f"{live_server}/status")
    expect(page.locator(".incident .workaround")).to_contain_text(WORKAROUND)
    expect(page.locator("body")).not_to_contain_text("INTERNAL")

    response = api.post("/api/v1/tickets", json={"tickets": [ticket(1, subject="Error 502 when I log in"),
                                                             ticket(2, subject="Invoice question", tags=["billing"])]})
    assert [m["external_id"] for m in response.get_json()["known_issue_matches"]] == ["ZD-1"]
    page.goto(f"{live_server}/tickets")
    flagged = page.locator('tr[data-ticket="ZD-1"] .known-issue-flag')
    expect(flagged).to_have_text(f"looks like INC-{incident_id}: current incident")
    expect(page.locator('tr[data-ticket="ZD-2"] .known-issue-flag')).to_have_count(0)
    flagged.click()
    expect(page).to_have_url(f"{live_server}/incidents/{incident_id}#known-issue")
    expect(page.locator("#known-issue h2")).to_contain_text("1 ticket looked like it")

    page.locator("header.top nav").get_by_role("link", name="Known issues").click()
    page.locator("#known-issue-search input[name=q]").fill("session deploy")
    page.locator("#known-issue-search").get_by_role("button", name="Search").click()
    expect(page.locator("#known-issue-list article")).to_have_count(1)
    expect(page.locator("#known-issue-list")).to_contain_text(f"INC-{incident_id}")
    assert console_errors == []
