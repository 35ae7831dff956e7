"""The support lead's ticket flood in a real browser: filter the tickets view, link all that match,
read the flood on the incident page, then link and unlink a few by hand."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from ..factories import tickets

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) these tests
    expect = None

pytestmark = pytest.mark.browser

LEAD = {"email": "sam@example.com", "password": "correct horse battery"}
FLOOD, OTHER = 120, 15


@pytest.fixture
def now():
    return datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def flood(api, now):
    """120 login/eu tickets over the last hour, 15 billing ones, and a SEV1 declared on top."""
    login = tickets(FLOOD, start=1, tags=["login", "eu"])
    for n, body in enumerate(login, start=1):
        body["created_at"] = (now - timedelta(seconds=30 * n)).isoformat()  # one every 30 s, back an hour
    billing = tickets(OTHER, start=FLOOD + 1, tags=["billing"], subject="Invoice is wrong")
    for n, body in enumerate(billing, start=1):
        body["created_at"] = (now - timedelta(minutes=4 * n)).isoformat()
    response = api.post("/api/v1/tickets", json={"tickets": login + billing})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == FLOOD + OTHER
    response = api.post("/api/v1/incidents", json={"title": "Login failing", "severity": "SEV1", "services": ["login"]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def log_in(page, email, password):  # noqa: F811
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_lead_links_a_flood_by_filter_then_a_few_by_hand(page, live_server, make_user, flood, console_errors):  # noqa: F811
    incident_id, reference = flood, f"INC-{flood}"
    make_user(LEAD["email"], role="lead", password=LEAD["password"])

    page.goto(f"{live_server}/login")
    log_in(page, LEAD["email"], LEAD["password"])
    expect(page).to_have_url(f"{live_server}/")

    # The tickets view, narrowed to the flood's tag.
    page.locator("header.top nav").get_by_role("link", name="Tickets", exact=True).click()
    expect(page).to_have_url(f"{live_server}/tickets")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"({FLOOD + OTHER} unlinked, newest first)")
    expect(page.locator("#link-all")).to_have_count(0)  # no filter, no "link all"
    filters = page.locator("#ticket-filter")
    filters.locator("input[name=tag]").fill("login")
    filters.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/tickets\?(.*&)?tag=login(&|$)"))
    expect(heading).to_contain_text(f"({FLOOD} unlinked, newest first)")
    expect(page.locator("#ticket-list tbody tr").first).to_have_attribute("data-ticket", "ZD-1")  # newest
    link_all = page.locator("#link-all")
    expect(link_all).to_have_text(f"Link all {FLOOD} that match")

    page.locator("#link-form select[name=incident_id]").select_option(str(incident_id))
    expect(page.locator("#link-form select[name=incident_id] option:checked")).to_have_text(
        f"{reference} · SEV1 · Login failing")
    link_all.click()

    # The incident page: the count, the flood chart, the top tags, the timeline.
    expect(page).to_have_url(f"{live_server}/incidents/{incident_id}")
    expect(page.locator("p.flash.success")).to_have_text(f"Linked {FLOOD} tickets to {reference}.")
    expect(page.locator("#linked-count")).to_have_text(str(FLOOD))
    chart = page.locator("#linked-tickets figure.chart svg")
    expect(chart).to_be_visible()
    bars = chart.locator("rect.bar")
    expect(bars.first).to_be_visible()
    assert bars.count() >= 1
    top_tags = page.locator("#top-tags a.tag")
    for tag in ("login", "eu"):
        expect(top_tags.filter(has_text=re.compile(rf"^\s*{tag}\s+{FLOOD}\s*$"))).to_have_count(1)
    expect(page.locator("#top-tags")).not_to_contain_text("billing")
    linked_event = page.locator("#timeline li.event.tickets_linked")
    expect(linked_event).to_have_count(1)
    expect(linked_event.locator(".kind")).to_have_text("tickets linked")
    expect(linked_event.locator(".actor")).to_contain_text(LEAD["email"])

    # Back to the default view (unlinked only): the billing tickets are what is left.
    page.locator("header.top nav").get_by_role("link", name="Tickets", exact=True).click()
    expect(page).to_have_url(f"{live_server}/tickets")
    expect(heading).to_contain_text(f"({OTHER} unlinked, newest first)")
    rows = page.locator("#ticket-list tbody tr")
    expect(rows).to_have_count(OTHER)
    expect(rows.locator(".tag")).to_have_text(["billing"] * OTHER)
    chosen = [f"ZD-{FLOOD + 1}", f"ZD-{FLOOD + 2}"]
    for external_id in chosen:
        page.get_by_role("checkbox", name=f"Select {external_id}", exact=True).check()
    page.locator("#link-form select[name=incident_id]").select_option(str(incident_id))
    page.get_by_role("button", name="Link selected").click()

    expect(page).to_have_url(f"{live_server}/incidents/{incident_id}")
    expect(page.locator("p.flash.success")).to_have_text(f"Linked 2 tickets to {reference}.")
    expect(page.locator("#linked-count")).to_have_text(str(FLOOD + 2))
    expect(page.locator("#top-tags a.tag").filter(has_text=re.compile(r"^\s*billing\s+2\s*$"))).to_have_count(1)
    expect(page.locator("#timeline li.event.tickets_linked")).to_have_count(2)

    # Unlink one of them again from the incident page.
    linked = page.locator("#linked-tickets")
    linked.get_by_role("checkbox", name=f"Select {chosen[0]}", exact=True).check()
    linked.get_by_role("button", name="Unlink selected").click()
    expect(page).to_have_url(f"{live_server}/incidents/{incident_id}")
    expect(page.locator("p.flash.success")).to_contain_text("Unlinked 1 ticket")
    expect(page.locator("#linked-count")).to_have_text(str(FLOOD + 1))
    expect(linked.get_by_role("checkbox", name=f"Select {chosen[0]}", exact=True)).to_have_count(0)
    expect(linked.get_by_role("checkbox", name=f"Select {chosen[1]}", exact=True)).to_have_count(1)
    expect(page.locator("#timeline li.event.tickets_unlinked .kind")).to_have_text("tickets unlinked")

    # The unlinked ticket is back among the unlinked ones.
    page.locator("header.top nav").get_by_role("link", name="Tickets", exact=True).click()
    expect(heading).to_contain_text(f"({OTHER - 1} unlinked, newest first)")
    expect(page.locator(f"#ticket-list tr[data-ticket='{chosen[0]}']")).to_have_count(1)
    expect(page.locator(f"#ticket-list tr[data-ticket='{chosen[1]}']")).to_have_count(0)

    assert console_errors == []
