"""The helpdesk sync in a real browser: link a flood, watch the incident page follow Zendesk to 100 %."""
from __future__ import annotations

import pytest

from incident.helpdesk import sync

from ..helpers import declare, log_in
from .support import both_sides, sync_until_idle

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) these tests
    expect = None

pytestmark = pytest.mark.browser
LEAD = {"email": "ana@example.com", "password": "correct horse battery"}


def test_link_a_flood_and_watch_the_helpdesk_sync_reach_100(app, api, make_user, connected, page, live_server,
                                                              console_errors):
    zendesk = connected
    make_user(LEAD["email"], role="lead", password=LEAD["password"])
    incident = declare(api, title="Login failing", services=["login"])
    ids = both_sides(api, zendesk, 250)
    zendesk.fail_ticket(ids[7], details="<b>Ticket is closed</b>")
    assert api.post(f"/api/v1/incidents/{incident['id']}/tickets", json={"filter": {"tags": ["login"]}}).status_code == 200

    page.goto(f"{live_server}/login")
    log_in(page, LEAD["email"], LEAD["password"])
    page.goto(f"{live_server}/incidents/{incident['id']}")
    section = page.locator("#helpdesk")
    expect(section.locator("[data-h=linked]")).to_have_text("250")
    expect(section.locator("[data-h=synced]")).to_have_text("0")
    expect(section.locator(".h-problem")).to_have_text("being created")
    page.evaluate("() => { window.__notReloaded = true; }")

    sync.run(app)                                   # the worker: the parent ticket, then the jobs
    sync.run(app)
    expect(section.locator(".h-problem")).not_to_have_text("being created")
    expect(section.locator("[data-h=jobs_running]")).to_have_text("3")
    sync_until_idle(app)
    expect(section.locator("[data-h=synced]")).to_have_text("249")
    expect(section.locator("[data-h=failed_count]")).to_have_text("1")
    expect(section.locator(".h-failed li")).to_have_text(f"{ids[7]} <b>Ticket is closed</b>")   # text, not markup
    expect(section.locator(".h-failed b")).to_have_count(0)
    assert page.evaluate("() => window.__notReloaded") is True

    zendesk.heal_ticket(ids[7])                     # the agent reopens it in Zendesk; the lead retries
    section.get_by_role("button", name="Retry the refused tickets").click()
    expect(page.locator("p.flash.success")).to_contain_text("Queued again: 1 helpdesk job")
    sync_until_idle(app)
    expect(page.locator("#helpdesk [data-h=percent]")).to_have_text("100")
    expect(page.locator("#helpdesk [data-h=synced]")).to_have_text("250")
    expect(page.locator("#helpdesk .h-retry")).to_be_hidden()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("link done in the helpdesk: 249 updated, 1 refused")
    assert console_errors == []
