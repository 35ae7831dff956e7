"""The Reports page: figures and charts, links to the incidents behind each figure, escaping, filters."""
from __future__ import annotations

import html
import re

from incident.reports import service

from ..factories import ticket
from ..helpers import declare, ingest, logged_in
from .conftest import PERIOD


def hrefs(page: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)]


def listed(client, href: str) -> list[str]:
    """The incident references the incidents list shows at this link."""
    page = client.get(href).get_data(as_text=True)
    return re.findall(r"<strong>(INC-\d+)</strong>", page)


def test_a_viewer_sees_the_figures_and_charts(client, make_user, scenario):
    logged_in(client, make_user, role="viewer", email="vic@example.com")
    response = client.get("/reports", query_string=PERIOD)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<a href="/reports">Reports</a>' in page                           # in the navigation
    for words in ("Incidents declared", "Time to acknowledge", "20 min", "p90 1 h 00 min", "over 3 acknowledged",
                  "Time to resolve", "3 h 00 min", "First customer message", "25 min", "Swarms"):
        assert words in page, words
    for chart in ("incidents-trend", "mtta-trend", "mttr-trend", "top-tags", "broadcast-channels"):
        assert '<svg xmlns="http://www.w3.org/2000/svg" class="report-chart"' in page
        assert f'id="{chart}-title"' in page, chart
    assert "2026-W48: 15 min" in page                                        # W48's MTTA point: median 900 s
    assert "login: 4 tickets (66.7 %)" in page                               # the top tag's bar
    assert "email: 1 sent, 0 delivered, 0 failed, 1 fell back" in page        # the channel chart, in words


def test_each_figure_links_to_the_incidents_behind_it(client, make_user, scenario):
    logged_in(client, make_user, role="viewer", email="vic@example.com")
    links = hrefs(client.get("/reports", query_string=PERIOD).get_data(as_text=True))
    ref = {k: f"INC-{v}" for k, v in scenario.items()}

    def behind(*needles: str) -> list[str]:
        """The incidents at the one link over the whole period that has all these parameters."""
        (href,) = {h for h in links if h.startswith("/incidents?since=2026-11-20T00")
                   and "until=2026-12-01T00" in h and all(n in h.split("&") for n in needles)}
        return listed(client, href)

    assert behind("figure=unacknowledged") == [ref["C"]]
    assert behind("figure=acknowledged") == [ref["D"], ref["B"], ref["A"]]
    assert behind("figure=reopened") == [ref["B"]]
    assert behind("figure=swarm") == [ref["D"]]
    assert behind("figure=breached", "level=L1", "policy=default") == [ref["D"], ref["A"]]
    assert behind("figure=escalated", "level=L2") == [ref["D"], ref["A"]]
    assert behind("figure=customer_message") == [ref["D"]]
    assert behind("figure=broadcast", "channel=email") == [ref["D"]]
    assert behind("tag=mobile") == [ref["B"]]
    assert behind("service=billing") == [ref["C"]]
    everything = {h for h in links if h.startswith("/incidents?since=2026-11-20T00") and h.count("&") == 1
                  and "until=2026-12-01T00" in h}
    assert [listed(client, h) for h in everything] == [[ref[k] for k in "DCBA"]]


def test_the_incidents_list_says_what_it_shows_and_leads_back(client, make_user, scenario):
    logged_in(client, make_user, role="viewer", email="vic@example.com")
    page = client.get("/incidents", query_string={**PERIOD, "figure": "breached", "level": "L1"}).get_data(as_text=True)
    assert "with an SLA breach" in page and "at level L1" in page
    assert 'href="/reports?since=2026-11-20' in page
    plain = client.get("/incidents").get_data(as_text=True)
    assert "back to the report" not in plain and len(re.findall(r"<strong>INC-", plain)) == 6


def test_names_are_escaped_in_the_page_charts_and_links(client, api, api_as, make_user, frozen):
    admin = api_as("admin", "root@example.com")
    make_user("amy@example.com", role="engineer", phone="+393471111111", slack_id="UAMY")
    policy = {"levels": [{"name": "<b>L1</b> & co", "targets": [{"user": "amy@example.com"}], "ack_timeout_seconds": 60,
                          "channels": ["slack"]}]}
    assert admin.put("/api/v1/escalation-policies/default", json=policy).status_code == 200
    incident = declare(api, services=["login"])
    assert api.post(f"/api/v1/incidents/{incident['id']}/escalate", json={}).status_code == 200
    ingest(api, ticket(1, tags=["c++/ios:17"], source="email"))
    assert api.post(f"/api/v1/incidents/{incident['id']}/tickets",
                    json={"external_ids": ["ZD-1"], "source": "email"}).status_code == 200
    logged_in(client, make_user, role="viewer", email="vic@example.com")
    page = client.get("/reports").get_data(as_text=True)
    assert "<b>L1</b>" not in page
    assert "&lt;b&gt;L1&lt;/b&gt; &amp; co" in page
    (tag_link,) = {h for h in hrefs(page) if h.startswith("/incidents?") and "tag=" in h}
    assert "tag=c%2B%2B" in tag_link                                        # a + is not read as a space
    assert listed(client, tag_link) == [f"INC-{incident['id']}"]
    (level_link,) = {h for h in hrefs(page) if "figure=escalated" in h and "level=" in h}
    assert listed(client, level_link) == [f"INC-{incident['id']}"]


def test_parameters_that_make_no_sense_are_explained_on_the_page(client, make_user, frozen):
    logged_in(client, make_user, role="viewer", email="vic@example.com")
    response = client.get("/reports", query_string={"since": "2026-11-30", "until": "2026-11-01", "severity": "SEV9"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "must be after since" in page and "unknown severity" in page
    assert 'value="2026-11-30"' in page                                     # the form keeps what was asked
    listing = client.get("/incidents", query_string={"until": "not a date"})
    assert listing.status_code == 200 and "Not a report&#39;s filter" in listing.get_data(as_text=True)


def test_the_page_needs_a_login_and_offers_the_csv(client, make_user, scenario):
    assert client.get("/reports").status_code == 302
    assert client.get("/reports/incidents.csv").status_code == 302
    logged_in(client, make_user, role="viewer", email="vic@example.com")
    page = client.get("/reports", query_string=PERIOD).get_data(as_text=True)
    (csv_link,) = {h for h in hrefs(page) if h.startswith("/reports/incidents.csv")}
    response = client.get(csv_link)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.get_data(as_text=True).count("\n") == 5                  # the header and A, B, C, D


def test_the_page_shows_the_overdue_action_items_the_summary_counts(client, make_user, frozen, monkeypatch):
    """The figure comes from service.overdue_action_items (counted for real in test_report_overdue.py)."""
    logged_in(client, make_user, role="viewer", email="vic@example.com")
    assert re.search(r"Overdue action items</span>\s*<span class=\"figure-value\">0</span>",
                     client.get("/reports").get_data(as_text=True))
    monkeypatch.setattr(service, "overdue_action_items", lambda f: 3)
    page = client.get("/reports").get_data(as_text=True)
    assert re.search(r"Overdue action items</span>\s*<span class=\"figure-value\">3</span>", page)
