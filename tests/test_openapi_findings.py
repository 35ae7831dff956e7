"""What the schemathesis run (test_openapi_fuzz.py) found, each pinned by a plain request: a clear
4xx (or the right answer) where the API gave a 500 or an undocumented status, and nothing written."""
from __future__ import annotations

import pytest

from .conftest import count_rows
from .factories import tickets


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
