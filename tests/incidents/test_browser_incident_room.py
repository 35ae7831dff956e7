"""The incident room end to end in a real browser: log in, declare, staff, update, tick, dashboard."""
from __future__ import annotations

import re

import pytest

from ..helpers import log_in

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) these tests
    expect = None

pytestmark = pytest.mark.browser

LEAD = {"email": "ana@example.com", "password": "correct horse battery", "name": "Ana Rossi"}
TITLE = "Login <script>window.__pwned=1</script> failing"  # an XSS probe: must show as text
MESSAGE = "Bad deploy rolled back"


@pytest.fixture
def staff(make_user):
    make_user(LEAD["email"], role="lead", password=LEAD["password"], name=LEAD["name"])
    make_user("bo@example.com", role="engineer", name="Bo")






def test_wrong_password_stays_on_login_and_deep_link_survives_login(page, live_server, staff):  # noqa: F811
    page.goto(f"{live_server}/incidents/new")
    expect(page).to_have_url(re.compile(r"/login\?next=/incidents/new$"))

    log_in(page, LEAD["email"], "not the password")
    expect(page.locator("p.flash.error")).to_have_text("Wrong email or password.")
    expect(page.locator("input[name=email]")).to_have_value(LEAD["email"])  # kept for the retry
    expect(page.get_by_role("link", name="Declare incident")).to_have_count(0)

    page.locator("input[name=password]").fill(LEAD["password"])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/incidents/new")
    expect(page.get_by_role("heading", name="Declare an incident")).to_be_visible()
    expect(page.locator("header.top .who")).to_contain_text("Ana Rossi")


def test_incident_room_from_declaration_to_dashboard(page, live_server, staff, console_errors):  # noqa: F811
    # Log in: the dashboard sends an anonymous visitor to the login page first.
    page.goto(f"{live_server}/")
    expect(page).to_have_url(re.compile(r"/login(\?.*)?$"))
    log_in(page, LEAD["email"], LEAD["password"])
    expect(page).to_have_url(f"{live_server}/")
    expect(page.locator("p.empty")).to_have_text("No open incidents. Quiet, for now.")

    # Declare a SEV1 whose title is an XSS probe.
    page.get_by_role("link", name="Declare incident").click()
    expect(page).to_have_url(f"{live_server}/incidents/new")
    page.locator("input[name=title]").fill(TITLE)
    page.locator("select[name=severity]").select_option("SEV1")
    page.locator("textarea[name=summary]").fill("5xx on /login since 09:12")
    page.locator("input[name=services]").fill("login, api")
    page.get_by_role("button", name="Declare", exact=True).click()

    expect(page).to_have_url(re.compile(r"/incidents/\d+$"))
    incident_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("p.flash.success")).to_have_text(f"INC-{incident_id} declared. You are the commander.")
    expect(page.locator("#incident-title")).to_have_text(TITLE)  # the markup shows as text...
    expect(page.locator("#incident-title script")).to_have_count(0)  # ...is no element...
    assert page.evaluate("() => window.__pwned") is None  # ...and never ran
    expect(page).to_have_title(f"INC-{incident_id} {TITLE} · Tocsin")
    head = page.locator("header.incident-head")
    expect(head.locator(".badge")).to_have_text("SEV1")
    expect(head.locator(".status")).to_have_text("investigating")
    expect(head.locator(".tag")).to_have_text(["api", "login"])

    # Crisis roles: the declarer commands; hand communications to Bo.
    roles = page.locator("#roles")
    expect(roles.locator("tr[data-role=commander]")).to_contain_text(LEAD["email"])
    expect(roles.locator("tr[data-role=communications]")).to_contain_text("—")
    roles.locator("select[name=role]").select_option("communications")
    roles.locator("select[name=user]").select_option("bo@example.com")
    roles.get_by_role("button", name="Assign / hand over").click()
    expect(page.locator("p.flash.success")).to_have_text("Communications lead: bo@example.com.")
    expect(roles.locator("tr[data-role=communications]")).to_contain_text("bo@example.com")
    expect(roles.locator(".gap-note .gap")).to_have_text(["Scribe", "Technical lead", "Customer liaison"])

    # A status update moves the incident to identified.
    update = page.locator("#post-update")
    update.locator("select[name=status]").select_option("identified")
    update.locator("textarea[name=message]").fill(MESSAGE)
    update.get_by_role("button", name="Post update").click()
    expect(page.locator("p.flash.success")).to_have_text("Update posted.")
    expect(head.locator(".status")).to_have_text("identified")
    expect(page.locator("#updates li").first).to_contain_text(MESSAGE)

    timeline = page.locator("#timeline")
    expect(timeline.locator(".kind")).to_have_text(["status changed", "role assigned", "role assigned", "declared"])
    expect(timeline.locator("li.event.status_changed .what")).to_have_text(f"investigating → identified: {MESSAGE}")
    expect(timeline).to_contain_text(MESSAGE)

    # My checklists: the commander's runbooks (not the other roles', folded away below them).
    mine = page.locator("#checklists > article.runbook")
    expect(mine.first).to_be_visible()
    assert mine.count() >= 1
    first_book = mine.first
    slug = first_book.get_attribute("data-runbook")
    first_item = first_book.locator("li").first
    expect(first_item).not_to_have_class(re.compile(r"\bdone\b"))
    item_text = first_item.locator("form > span").inner_text()
    first_book.locator("button.tick").first.click()

    expect(page.locator("p.flash.success")).to_have_text("Checklist updated.")
    ticked = page.locator(f"#checklists > article.runbook[data-runbook={slug}] li").first
    expect(ticked).to_have_class(re.compile(r"\bdone\b"))
    expect(ticked.locator("form > span")).to_have_text(item_text)
    expect(ticked.locator("button.tick")).to_have_attribute("aria-pressed", "true")
    expect(ticked).to_contain_text(LEAD["email"])  # who ticked it
    expect(timeline.locator(".kind").first).to_have_text("checklist item checked")
    expect(timeline.locator("li.event.checklist_item_checked .what")).to_have_text(item_text)

    # The dashboard: the incident, its severity and status, who holds what, and the gaps.
    page.get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(f"{live_server}/")
    row = page.locator(f"#open-incidents tr[data-incident='{incident_id}']")
    expect(row).to_have_count(1)
    expect(row.locator("a")).to_contain_text(f"INC-{incident_id} {TITLE}")
    expect(row.locator(".badge")).to_have_text("SEV1")
    expect(row.locator(".status")).to_have_text("identified")
    expect(row.locator("td.roles div", has_text="Incident commander")).to_contain_text(LEAD["email"])
    expect(row.locator("td.roles div", has_text="Communications lead")).to_contain_text("bo@example.com")
    expect(row.locator("td.missing .gap")).to_have_text(["Scribe", "Technical lead", "Customer liaison"])
    assert page.evaluate("() => window.__pwned") is None

    assert console_errors == []
