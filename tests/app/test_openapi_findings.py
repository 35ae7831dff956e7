"""What the schemathesis run (test_openapi_fuzz.py) found, each pinned by a plain request: a clear
4xx (or the right answer) where the API gave a 500 or an undocumented status, and nothing written."""
from __future__ import annotations

import pytest

from ..conftest import count_rows
from ..factories import tickets


@pytest.fixture
def incident_id(api):
    response = api.post("/api/v1/incidents", json={"title": "Login failing", "severity": "SEV2",
                                                   "services": ["login"]})
    assert response.status_code == 201
    return response.get_json()["id"]


@pytest.mark.parametrize("field", ["services", "summary", "title", "severity", "solve_tickets_on_resolve"])
def test_an_incident_field_sent_as_null_is_refused(app, api, incident_id, field):
    before = count_rows(app, "timeline_events")
    response = api.patch(f"/api/v1/incidents/{incident_id}", json={field: None})
    assert response.status_code == 422, response.get_json()
    assert "cannot be null" in response.get_json()["error"]["message"] + str(response.get_json()["error"]["details"])
    assert count_rows(app, "timeline_events") == before


def test_unlinking_by_filter_unlinks_what_matches(api, incident_id):
    assert api.post("/api/v1/tickets", json={"tickets": tickets(3) + tickets(1, start=4, tags=["billing"])}
                    ).status_code == 200
    assert api.post(f"/api/v1/incidents/{incident_id}/tickets",
                    json={"external_ids": ["ZD-1", "ZD-2", "ZD-3", "ZD-4"]}).get_json()["linked"] == 4
    response = api.post(f"/api/v1/incidents/{incident_id}/tickets/unlink", json={"filter": {"tags": ["billing"]}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"unlinked": 1, "not_found": []}
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["linked_tickets"] == 3


@pytest.mark.parametrize("method", ["get", "patch"])
def test_a_customer_id_too_big_for_a_key_is_not_found(api, method):
    response = getattr(api, method)("/api/v1/customers/5639670370", json={"name": "x"} if method == "patch" else None)
    assert response.status_code == 404, response.get_json()


POLICY = {"levels": [{"name": "L1", "targets": [{"user": "lead@example.com"}], "ack_timeout_seconds": 900}]}


@pytest.mark.parametrize("change, field", [
    ({"applies_to": "login"}, "applies_to"),
    ({"applies_to": {"severities": 5}}, "applies_to.severities"),
    ({"applies_to": {"severities": [["SEV1"]]}}, "applies_to.severities"),
    ({"applies_to": {"services": "login"}}, "applies_to.services"),
    ({"applies_to": {"services": [{}]}}, "applies_to.services"),
    ({"levels": [{**POLICY["levels"][0], "name": {}}]}, "levels.0.name"),
    ({"levels": [{**POLICY["levels"][0], "name": ["L1"]}]}, "levels.0.name"),
])
def test_a_malformed_escalation_policy_is_refused_field_by_field(app, api_as, change, field):
    admin = api_as("admin", "root@example.com")
    api_as("lead", "lead@example.com")
    response = admin.put("/api/v1/escalation-policies/default", json={**POLICY, **change})
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["details"]
    assert count_rows(app, "escalation_policies") == {"escalation_policies": 0}


def test_what_a_policy_applies_to_is_read_as_service_names(api_as):
    admin = api_as("admin", "root@example.com")
    api_as("lead", "lead@example.com")
    response = admin.put("/api/v1/escalation-policies/default", json={
        **POLICY, "applies_to": {"services": [" Login", "login"], "severities": ["SEV2", "SEV1", "SEV2"]}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["applies_to"] == {"services": ["login"], "severities": ["SEV1", "SEV2"]}


YEAR_1, YEAR_9999 = "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"   # neither can be put in UTC


@pytest.mark.parametrize("method, path, body, field", [
    ("post", "/api/v1/tickets", {"external_id": "ZD-1", "created_at": YEAR_1}, "items"),
    ("get", "/api/v1/tickets?since=0001-01-01T00:00:00%2B23:59", None, "since"),
    ("get", "/api/v1/tickets?until=9999-12-31T23:59:59-23:59", None, "until"),
    ("post", "/api/v1/incidents/{id}/tickets", {"filter": {"since": YEAR_1}}, "filter.since"),
    ("post", "/api/v1/incidents/{id}/broadcasts", {"kind": "status", "channels": ["email"], "send_at": YEAR_1},
     "send_at"),
    ("post", "/api/v1/incidents/{id}/broadcasts/preview", {"kind": "status", "channels": ["email"], "send_at": YEAR_1,
                                                           "next_update_minutes": 30}, "send_at"),
    ("put", "/api/v1/rotations/support", {"users": ["lead@example.com"], "shift_hours": 24, "starts_at": YEAR_9999},
     "starts_at"),
    ("get", "/api/v1/rotations/support?at=0001-01-01T00:00:00%2B23:59", None, "at"),
    ("post", "/api/v1/escalation-policies/simulate", {"at": YEAR_1}, "at"),
    ("post", "/api/v1/status/maintenances", {"name": "Upgrade", "scheduled_for": YEAR_1, "scheduled_until": YEAR_9999,
                                             "components": [1]}, "scheduled_for"),
])
def test_a_time_out_of_range_is_refused(app, api, api_as, incident_id, method, path, body, field):
    admin = api_as("admin", "root@example.com")
    assert admin.put("/api/v1/rotations/support", json={"users": ["lead@example.com"], "shift_hours": 24,
                                                        "starts_at": "2026-11-01T00:00:00+00:00"}).status_code == 200
    response = getattr(admin, method)(path.format(id=incident_id), **({"json": body} if body is not None else {}))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["details"]


def test_a_shift_too_short_to_measure_is_refused(api_as):
    admin = api_as("admin", "root@example.com")
    response = admin.put("/api/v1/rotations/support", json={"users": ["root@example.com"], "shift_hours": 1e-300,
                                                            "starts_at": "2026-11-01T00:00:00+00:00"})
    assert response.status_code == 422, response.get_json()
    assert "shift_hours" in response.get_json()["error"]["details"]


HUGE = 99999999999999999999   # more than SQLite's (and PostgreSQL's bigint) integers hold


@pytest.mark.parametrize("method, path, body, status", [
    ("patch", f"/api/v1/status/components/{HUGE}", {"name": "Login"}, 404),
    ("delete", f"/api/v1/status/components/{HUGE}", None, 404),
    ("get", f"/api/v1/status/maintenances/{HUGE}", None, 404),
    ("delete", f"/api/v1/status/maintenances/{HUGE}", None, 404),
    ("post", "/api/v1/status/maintenances", {"name": "Upgrade", "scheduled_for": "2027-01-01T00:00:00+00:00",
                                             "scheduled_until": "2027-01-01T01:00:00+00:00",
                                             "components": [HUGE]}, 422),
    ("put", "/api/v1/incidents/{id}/status-impact", {"components": {str(HUGE): None}}, 422),
])
def test_an_id_too_big_for_a_key_is_not_a_server_error(api, incident_id, method, path, body, status):
    response = getattr(api, method)(path.format(id=incident_id), **({"json": body} if body is not None else {}))
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("path", [
    "/api/v1/tickets?q=%00", "/api/v1/customers?segment=a%00", "/api/v1/incidents/{id}/tickets/ZD%001",
    "/api/v1/rotations/a%00", "/api/v1/tickets?%00=1"])
def test_a_nul_in_the_url_is_refused(api, incident_id, path):
    """PostgreSQL cannot compare text holding NUL: a 500 there, before."""
    method = api.delete if "/tickets/ZD" in path else api.get
    response = method(path.format(id=incident_id))
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"] == {"url": "NUL"}


@pytest.mark.parametrize("unlink", [{"filter": {}}, {"filter": {"unlinked_only": False, "text": " "}}])
def test_unlinking_by_a_filter_that_says_nothing_is_refused(app, api, incident_id, unlink):
    """"Every ticket" is said with all: true; an empty filter was a server error."""
    assert api.post("/api/v1/tickets", json={"tickets": tickets(1)}).status_code == 200
    assert api.post(f"/api/v1/incidents/{incident_id}/tickets", json={"external_ids": ["ZD-1"]}).status_code == 200
    response = api.post(f"/api/v1/incidents/{incident_id}/tickets/unlink", json=unlink)
    assert response.status_code == 422, response.get_json()
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["linked_tickets"] == 1


def test_a_nul_in_a_ticket_batch_is_refused_and_nothing_written(app, api):
    """The batch is parsed without keeping it on the request, which skipped the NUL check (a 500 on PostgreSQL)."""
    response = api.post("/api/v1/tickets", json={"tickets": tickets(2) + tickets(1, start=3, description="a\u0000b")})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"] == {"body": "NUL"}
    assert count_rows(app, "tickets") == {"tickets": 0}
