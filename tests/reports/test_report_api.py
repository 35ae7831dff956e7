"""The reports API: parameters that make no sense (422 with the reason), permissions, the CSV."""
from __future__ import annotations

import csv
import io

import pytest

from ..helpers import declare
from .conftest import PERIOD

BAD = [
    ({"since": "2026-11-30", "until": "2026-11-20"}, "until", "after since"),
    ({"since": "2026-11-20T10:00:00+00:00", "until": "2026-11-20T10:00:00+00:00"}, "until", "after since"),
    ({"since": "2026-13-01"}, "since", "not a date"),
    ({"until": "yesterday"}, "until", "not a date"),
    ({"since": "2026-11-20T10:00:00"}, "since", "needs an offset"),
    ({"since": "1969-12-31"}, "since", "between 1970 and 2999"),
    ({"until": "3000-01-01T00:00:00+00:00"}, "until", "between 1970 and 2999"),
    ({"since": "2023-01-01", "until": "2026-01-01"}, "until", "at most 731 days"),
    ({"severity": "SEV9"}, "severity", "unknown severity"),
    ({"severity": "SEV1,urgent"}, "severity", "unknown severity"),
    ({"service": "Not A Service!"}, "service", "lowercase"),
    ({"service": "nosuch"}, "service", "unknown service"),
    ({"tag": "no spaces <allowed>"}, "tag", "not a tag"),
    ({"service": ["login", "api"]}, "service", "one at a time"),
    ({"since": ["2026-11-01", "2026-11-02"]}, "since", "give it once"),
]


@pytest.mark.parametrize(("params", "field", "reason"), BAD)
def test_parameters_that_make_no_sense_are_422_with_the_reason(api, frozen, params, field, reason):
    declare(api, services=["login"])
    for path in ("/api/v1/reports/summary", "/api/v1/reports/incidents.csv"):
        response = api.get(path, query_string=params)
        assert response.status_code == 422, (path, response.get_data(as_text=True))
        error = response.get_json()["error"]
        assert error["code"] == "validation_error"
        assert reason in error["details"][field], error


def test_every_problem_is_named_at_once(api, frozen):
    response = api.get("/api/v1/reports/summary", query_string={"since": "soon", "severity": "SEV0", "tag": "a b!"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["details"]) == {"since", "severity", "tag"}


def test_dates_mean_whole_days_and_severities_may_be_comma_separated(api, frozen):
    body = api.get("/api/v1/reports/summary", query_string={"since": "2026-11-01", "until": "2026-11-30",
                                                            "severity": "sev1, SEV2"}).get_json()
    assert body["period"] == {"since": "2026-11-01T00:00:00+00:00", "until": "2026-12-01T00:00:00+00:00"}
    assert body["filters"]["severity"] == ["SEV1", "SEV2"]
    zulu = api.get("/api/v1/reports/summary", query_string={"since": "2026-11-01T08:00:00Z",
                                                            "until": "2026-11-01T10:30:00+02:00"}).get_json()
    assert zulu["period"] == {"since": "2026-11-01T08:00:00+00:00", "until": "2026-11-01T08:30:00+00:00"}


def test_a_viewer_may_read_reports_and_nobody_without_a_token(client, api_as, frozen):
    viewer = api_as("viewer", "vic@example.com")
    assert viewer.get("/api/v1/reports/summary").status_code == 200
    assert viewer.get("/api/v1/reports/incidents.csv").status_code == 200
    for path in ("/api/v1/reports/summary", "/api/v1/reports/incidents.csv"):
        response = client.get(path)
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
        assert client.get(path, headers={"Authorization": "Bearer tcs_wrong"}).status_code == 401


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_csv_has_one_row_per_incident_with_its_times_and_figures(api, scenario):
    response = api.get("/api/v1/reports/incidents.csv", query_string=PERIOD)
    assert response.headers["Content-Disposition"] == 'attachment; filename="incidents-2026-11-20-to-2026-11-30.csv"'
    rows = read_csv(response)
    assert [r["reference"] for r in rows] == [f"INC-{scenario[k]}" for k in "DCBA"]   # newest first
    d, c, b, a = rows
    assert (a["severity"], a["status"], a["services"]) == ("SEV1", "resolved", "api login")
    assert (a["declared_at"], a["acknowledged_at"], a["resolved_at"], a["first_public_update_at"]) == (
        "2026-11-22T09:00:00+00:00", "2026-11-22T10:10:00+00:00", "2026-11-22T12:00:00+00:00",
        "2026-11-22T09:15:00+00:00")
    assert [a[k] for k in ("time_to_acknowledge_seconds", "time_to_resolve_seconds",
                           "time_to_first_public_update_seconds", "time_to_first_customer_message_seconds")] == [
        "4200", "10800", "900", ""]
    assert (a["escalation_policy"], a["swarm"], a["pages"], a["sla_breaches"], a["linked_tickets"]) == (
        "default", "no", "2", "1", "3")
    assert (b["reopened"], b["time_to_resolve_seconds"], b["pages"], b["escalation_policy"]) == ("1", "18000", "0", "")
    assert (c["status"], c["acknowledged_at"], c["time_to_acknowledge_seconds"], c["linked_tickets"]) == (
        "investigating", "", "", "0")
    assert (d["swarm"], d["pages"], d["sla_breaches"], d["time_to_first_customer_message_seconds"]) == (
        "yes", "6", "3", "1500")
    assert (d["messages_sent"], d["messages_delivered"], d["messages_failed"], d["messages_fell_back"]) == (
        "4", "1", "1", "1")


def test_the_csv_takes_the_same_filters(api, scenario):
    rows = read_csv(api.get("/api/v1/reports/incidents.csv", query_string={**PERIOD, "tag": "eu"}))
    assert [r["reference"] for r in rows] == [f"INC-{scenario['D']}", f"INC-{scenario['A']}"]
    assert read_csv(api.get("/api/v1/reports/incidents.csv", query_string={**PERIOD, "severity": "SEV4"})) == []


def test_a_title_a_spreadsheet_would_run_is_defused(api, frozen):
    declare(api, title="=HYPERLINK(\"http://evil.example\",\"click\")")
    (row,) = read_csv(api.get("/api/v1/reports/incidents.csv"))
    assert row["title"].startswith("'=HYPERLINK(")
