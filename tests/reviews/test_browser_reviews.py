"""Writing and publishing a review in a real browser: the live preview, escaping, an action item, the
workflow to published (read-only), and the print-ready page."""
from __future__ import annotations

import re

import pytest

from ..helpers import declare, log_in
from .support import update

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) these tests
    expect = None

pytestmark = pytest.mark.browser

LEAD = {"email": "ana@example.com", "password": "correct horse battery"}


@pytest.fixture
def resolved(app, api, make_user, frozen):
    make_user(LEAD["email"], role="lead", password=LEAD["password"], name="Ana")
    make_user("amy@example.com", role="engineer", name="Amy")
    incident = declare(api, title="Login <i>failing</i>")
    update(api, incident["id"], "identified", "Bad deploy")
    update(api, incident["id"], "resolved", "Rolled back")
    return incident["id"]


def test_write_preview_add_an_action_item_and_publish(app, api, page, live_server, resolved, console_errors):
    page.goto(f"{live_server}/login")
    log_in(page, LEAD["email"], LEAD["password"])
    page.goto(f"{live_server}/incidents/{resolved}")
    card = page.locator("#review-card")
    expect(card.locator(".review-status")).to_have_text("draft")
    card.get_by_role("link", name="Open the review").click()
    expect(page).to_have_url(re.compile(rf"/incidents/{resolved}/review$"))
    expect(page.locator("#review-title")).to_have_text("Login <i>failing</i>")   # text, not markup
    expect(page.locator("#review-key-times tr[data-key=resolved_at] td").first).to_have_text("22 Nov 09:00")

    # The live preview: Markdown rendered as it will read, HTML shown as text, a script link not a link.
    summary = page.locator("textarea[name=summary]")
    summary.fill("Logins **failed** for EU customers. <script>window.__pwned = 1</script> [see](javascript:alert(1))")
    preview = page.locator("[data-preview-for=summary]")
    expect(preview.locator("strong")).to_have_text("failed")
    expect(preview).to_contain_text("<script>window.__pwned = 1</script>")
    expect(preview.locator("a")).to_have_count(0)
    page.locator("textarea[name=root_cause]").fill("- a bad deploy\n- no canary")
    expect(page.locator("[data-preview-for=root_cause] li")).to_have_count(2)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("p.flash.success")).to_have_text("Review saved.")
    expect(summary).to_have_value(re.compile(r"^Logins \*\*failed\*\*"))

    # An action item, owned by Amy, with a tracker link.
    form = page.locator("#add-action-item")
    form.locator("input[name=title]").fill("Canary deploys for login")
    form.locator("select[name=owner]").select_option("amy@example.com")
    form.locator("input[name=due_on]").fill("2026-12-01")
    form.locator("input[name=url]").fill("https://tracker.example.com/ENG-42")
    form.get_by_role("button", name="Add action item").click()
    row = page.locator("#action-items tr[data-item]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Canary deploys for login")
    expect(row.get_by_role("link", name="tracker")).to_have_attribute("href", "https://tracker.example.com/ENG-42")

    # Draft → in review → published: then read-only.
    page.get_by_role("button", name="Send for review").click()
    expect(page.locator("#review-status")).to_have_text("in review")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#review-status")).to_have_text("published")
    expect(page.locator("#published-note")).to_be_visible()
    expect(page.locator("#review-form")).to_have_count(0)
    expect(page.locator("#add-action-item")).to_have_count(0)
    expect(page.locator("#section-summary .md strong")).to_have_text("failed")
    expect(page.locator("#section-summary")).to_contain_text("<script>")
    expect(page.get_by_role("button", name="Reopen to draft")).to_be_visible()
    assert page.evaluate("() => window.__pwned") is None

    # The print-ready page: the document alone, the chart inline.
    page.get_by_role("link", name="Print-ready page").click()
    expect(page.locator(".review-document h1")).to_have_text(f"INC-{resolved} Login <i>failing</i>")
    expect(page.locator(".review-document #section-summary strong")).to_have_text("failed")
    expect(page.locator(".review-document svg.flood-chart")).to_have_count(1)
    expect(page.locator(".review-document #action-items-table")).to_contain_text("Canary deploys for login")
    page.emulate_media(media="print")
    expect(page.locator(".screen-bar")).to_be_hidden()
    kinds = [e["kind"] for e in api.get(f"/api/v1/incidents/{resolved}/timeline").get_json()["items"]]
    assert kinds[-3:] == ["action_item_created", "review_status_changed", "review_published"]
    assert console_errors == []
