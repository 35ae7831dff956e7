"""The Reports page in a real browser: the charts draw under the page's CSP, a figure and a chart point
lead to the incidents behind them, the filter form narrows the report."""
from __future__ import annotations

import re

import pytest

from ..helpers import PASSWORD, log_in

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) these tests
    expect = None

pytestmark = pytest.mark.browser


def references(page) -> list[str]:
    return page.locator("table.incidents strong").all_inner_texts()


def test_from_a_figure_and_a_chart_point_to_the_incidents_behind_them(page, live_server, make_user, scenario,
                                                                       console_errors):
    make_user("vic@example.com", role="viewer", password=PASSWORD)
    page.goto(f"{live_server}/reports?since=2026-11-20&until=2026-11-30")
    log_in(page, "vic@example.com", PASSWORD)
    expect(page.get_by_role("heading", name=re.compile("Reports"))).to_contain_text("2026-11-20 to 2026-11-30 (UTC)")
    for chart in ("Incidents declared per week", "Time to acknowledge, median per week", "Top tags of linked tickets",
                  "Broadcast messages per channel"):
        expect(page.get_by_role("img", name=re.compile(re.escape(chart)))).to_be_visible()

    page.locator("[data-figure='Time to acknowledge'] a").click()
    expect(page.locator("#behind")).to_contain_text("acknowledged")
    assert references(page) == [f"INC-{scenario[k]}" for k in "DBA"]
    page.go_back()

    # The MTTA line's second point is week 48: B and D were acknowledged in it.
    page.get_by_role("img", name=re.compile("Time to acknowledge, median per week")).locator("a").nth(1).click()
    expect(page).to_have_url(re.compile(r"/incidents\?since=2026-11-23T00"))
    assert references(page) == [f"INC-{scenario[k]}" for k in "DB"]
    page.locator("#behind").get_by_role("link", name="back to the report").click()
    expect(page.get_by_role("heading", name=re.compile("Reports"))).to_contain_text("2026-11-23 to 2026-11-29")

    page.goto(f"{live_server}/reports?since=2026-11-20&until=2026-11-30")
    page.locator("select[name=severity]").select_option(["SEV1"])
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name=re.compile("Reports"))).to_contain_text("SEV1")
    expect(page.locator("#headline .figure-value").first).to_have_text("2")    # A and D
    assert console_errors == []
