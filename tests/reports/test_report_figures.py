"""Every figure of the summary against values worked out by hand from the scenario (conftest.py).

Percentiles interpolate between the two closest ranks (p90 of [600, 1200, 4200]: rank 0.9 × 2 = 1.8,
so 1200 + 0.8 × 3000 = 3600), as PostgreSQL's percentile_cont does.
"""
from __future__ import annotations

import pytest
from sqlalchemy import text

from incident.extensions import db
from incident.reports.policy import parse_filter
from incident.reports.service import summary

from ..conftest import T0, TEST_DATABASE_URL
from .conftest import PERIOD


def report(api, **params):
    response = api.get("/api/v1/reports/summary", query_string={**PERIOD, **params})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_recorded_steps_are_what_the_figures_are_worked_out_from(api, scenario):
    """The scenario did what conftest says: the figures below rest on it."""
    steps = [(s["level"], s["round"], bool(s["breached_at"]), bool(s["acknowledged_at"]))
             for s in api.get(f"/api/v1/incidents/{scenario['A']}/escalation").get_json()["steps"]]
    assert steps == [("L1", 0, True, False), ("L2", 0, False, True)]
    swarm = api.get(f"/api/v1/incidents/{scenario['D']}/escalation").get_json()
    assert sorted((s["level"], s["round"], bool(s["breached_at"])) for s in swarm["steps"]) == [
        ("L1", 0, True), ("L1", 1, False), ("L2", 0, True), ("L2", 1, False), ("engineering", 0, True),
        ("engineering", 1, False)]
    b = api.get(f"/api/v1/incidents/{scenario['B']}").get_json()
    assert (b["acknowledged_at"], b["resolved_at"]) == ("2026-11-23T09:10:00+00:00", "2026-11-23T14:00:00+00:00")
    assert b["escalation"]["level"] is None   # nobody was paged for B


def test_counts_and_durations(api, scenario):
    s = report(api)
    assert s["period"] == {"since": "2026-11-20T00:00:00+00:00", "until": "2026-12-01T00:00:00+00:00"}
    assert s["filters"] == {"severity": [], "service": None, "tag": None}
    # A, B, C, D: not F (before the period), not E (merged into A)
    assert (s["incidents"], s["acknowledged"], s["resolved"], s["reopened"]) == (4, 3, 3, 1)
    # acknowledged: B 600 (nobody paged, still counts), D 1200, A 4200
    assert s["mtta_seconds"] == {"median": 1200.0, "p90": 3600.0, "count": 3}
    # resolved: D 7200, A 10800, B 18000 (to its last resolution: the 3 hours it was reopened count)
    assert s["mttr_seconds"] == {"median": 10800.0, "p90": 16560.0, "count": 3}
    # first public update: A 900 (its internal one at 300 s does not count), B 1800, D 2400
    assert s["first_public_update_seconds"] == {"median": 1800.0, "p90": 2280.0, "count": 3}
    # first customer message: only D broadcast, 25 minutes in
    assert s["first_customer_message_seconds"] == {"median": 1500.0, "p90": 1500.0, "count": 1}


def test_escalation_figures(api, scenario):
    s = report(api)
    # pages: A L1, L2; D's swarm L1, L2, engineering twice (round 0 and round 1)
    assert s["escalations"] == {"L1": 3, "L2": 3, "engineering": 2}
    # breaches: A L1; D's round 0 at all three levels
    assert s["sla_breaches"] == {"L1": 2, "L2": 1, "engineering": 1}
    assert s["sla_breaches_by_policy"] == {"default": {"L1": 2, "L2": 1, "engineering": 1}}
    assert (s["escalated_incidents"], s["swarms"]) == (2, 1)


def test_tickets_tags_and_services(api, scenario):
    s = report(api)
    # linked: A 3, B 2, C 0, D 1 -> sorted 0 1 2 3: median 1.5, p90 rank 2.7 -> 2.7
    assert s["tickets"] == {"linked": 6, "per_incident": {"median": 1.5, "p90": 2.7}}
    assert s["top_tags"] == [
        {"tag": "login", "tickets": 4, "share": 0.6667}, {"tag": "eu", "tickets": 3, "share": 0.5},
        {"tag": "api", "tickets": 1, "share": 0.1667}, {"tag": "billing", "tickets": 1, "share": 0.1667},
        {"tag": "mobile", "tickets": 1, "share": 0.1667}]
    # services of the incidents, with their incidents' linked tickets: login A+B (3+2), api A+D (3+1), billing C
    assert s["top_services"] == [
        {"service": "login", "incidents": 2, "tickets": 5, "share": 0.8333},
        {"service": "api", "incidents": 2, "tickets": 4, "share": 0.6667},
        {"service": "billing", "incidents": 1, "tickets": 0, "share": 0.0}]
    assert s["repeat_services"] == [{"service": "login", "incidents": 2}, {"service": "api", "incidents": 2}]


def test_broadcasts_per_channel(api, scenario):
    assert report(api)["broadcasts"] == {
        "email": {"sent": 1, "delivered": 0, "failed": 0, "fell_back": 1},     # Carla; Ada left for SMS
        "slack": {"sent": 1, "delivered": 0, "failed": 0, "fell_back": 0},     # Acme
        "sms": {"sent": 2, "delivered": 1, "failed": 1, "fell_back": 0}}       # Ada, Dev (delivered); Bruno failed


def test_weekly_trend(api, scenario):
    weeks = report(api)["weekly"]
    assert [(w["week"], w["starts_on"], w["incidents"]) for w in weeks] == [
        ("2026-W47", "2026-11-16", 1), ("2026-W48", "2026-11-23", 3), ("2026-W49", "2026-11-30", 0)]
    w47, w48, w49 = weeks
    assert w47["mtta_seconds"] == {"median": 4200.0, "p90": 4200.0, "count": 1}
    assert w47["mttr_seconds"] == {"median": 10800.0, "p90": 10800.0, "count": 1}
    # W48: B and D acknowledged (600, 1200), resolved (18000, 7200); C neither
    assert w48["mtta_seconds"] == {"median": 900.0, "p90": 1140.0, "count": 2}
    assert w48["mttr_seconds"] == {"median": 12600.0, "p90": 16920.0, "count": 2}
    assert w48["first_customer_message_seconds"] == {"median": 1500.0, "p90": 1500.0, "count": 1}
    assert w49["mtta_seconds"] == {"median": None, "p90": None, "count": 0}


def test_the_default_period_is_the_last_ninety_days(api, scenario):
    s = api.get("/api/v1/reports/summary").get_json()   # the clock is at T0 + 5 days: Friday 27 November
    assert s["period"] == {"since": "2026-08-30T00:00:00+00:00", "until": "2026-11-28T00:00:00+00:00"}
    assert s["incidents"] == 4   # F, 100 days back, is outside


def test_filters_narrow_every_figure(api, scenario):
    sev1 = report(api, severity="SEV1")                     # A and D
    assert (sev1["incidents"], sev1["mtta_seconds"]["median"], sev1["mttr_seconds"]["median"]) == (2, 2700.0, 9000.0)
    assert sev1["tickets"]["linked"] == 4
    both = report(api, severity=["SEV2", "SEV3"])           # B and C
    assert (both["incidents"], both["acknowledged"], both["resolved"]) == (2, 1, 1)
    assert both["sla_breaches"] == {} and both["broadcasts"] == {}
    login = report(api, service="login")                     # A and B
    assert (login["incidents"], login["reopened"], login["mttr_seconds"]["median"]) == (2, 1, 14400.0)
    assert [t["tag"] for t in login["top_tags"]] == ["login", "eu", "billing", "mobile"]
    eu = report(api, tag="eu")                               # incidents with a linked ticket tagged eu: A and D
    assert (eu["incidents"], eu["swarms"], eu["tickets"]["linked"]) == (2, 1, 4)
    assert eu["top_tags"][0] == {"tag": "eu", "tickets": 3, "share": 0.75}
    nothing = report(api, tag="nobody-uses-this")
    assert nothing["incidents"] == 0 and nothing["mtta_seconds"] == {"median": None, "p90": None, "count": 0}
    assert nothing["top_tags"] == [] and nothing["tickets"] == {"linked": 0, "per_incident": {"median": None,
                                                                                               "p90": None}}


def test_a_period_edge_counts_by_declaration_time(api, scenario):
    # until is exclusive: A was declared at exactly T0
    assert report(api, since="2026-11-20T00:00:00+00:00", until=T0.isoformat())["incidents"] == 0
    assert report(api, since=T0.isoformat(), until="2026-11-22T09:00:01+00:00")["incidents"] == 1


@pytest.mark.skipif(not (TEST_DATABASE_URL or "").startswith("postgresql"), reason="PostgreSQL's percentile_cont")
def test_percentiles_agree_with_postgresql_percentile_cont(app, scenario):
    with app.app_context():
        s = summary(parse_filter(PERIOD, now=T0))
        expected = db.session.execute(text(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), percentile_cont(0.9) WITHIN GROUP (ORDER BY d) "
            "FROM (SELECT EXTRACT(EPOCH FROM acknowledged_at - declared_at) AS d FROM incidents "
            "WHERE acknowledged_at IS NOT NULL AND merged_into_id IS NULL AND declared_at >= '2026-11-20') AS t")).one()
    assert (s["mtta_seconds"]["median"], s["mtta_seconds"]["p90"]) == (float(expected[0]), float(expected[1]))
