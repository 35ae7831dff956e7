"""The incidents API as API.md writes it: declare, read, edit, updates, timeline, errors."""
from __future__ import annotations

import pytest

from incident import clock

from ..conftest import count_rows
from ..helpers import DECLARE, declare

TABLES = ("incidents", "timeline_events", "role_assignments", "incident_updates", "services")




def test_declare_returns_the_documented_incident(api, frozen):
    body = declare(api)
    assert set(body) >= {"id", "reference", "title", "severity", "status", "services", "mode", "declared_at",
                         "declared_by", "acknowledged_at", "resolved_at", "roles", "linked_tickets", "escalation"}
    assert body["reference"] == f"INC-{body['id']}"
    assert body["status"] == "investigating"
    assert body["services"] == ["api", "login"]
    assert body["declared_at"] == "2026-11-22T09:00:00+00:00"
    assert body["declared_by"] == "lead@example.com"
    assert body["roles"] == {"commander": "lead@example.com"}
    assert body["acknowledged_at"] is None and body["resolved_at"] is None
    assert body["linked_tickets"] == 0
    assert body["escalation"] == {"level": None, "policy": "default", "next_deadline_at": None, "state": None}


def test_declare_can_name_another_commander(api, make_user):
    make_user("ic@example.com", role="engineer")
    body = declare(api, commander="IC@example.com")
    assert body["roles"] == {"commander": "ic@example.com"}


def test_timeline_records_declaration_and_commander(api):
    incident = declare(api)
    timeline = api.get(f"/api/v1/incidents/{incident['id']}/timeline").get_json()
    kinds = [e["kind"] for e in timeline["items"]]
    assert kinds == ["declared", "role_assigned"]
    assert timeline["items"][0]["actor"] == "lead@example.com"
    assert timeline["items"][1]["data"] == {"role": "commander", "user": "lead@example.com", "previous": None}


def test_lifecycle_through_resolution_and_reopen(api, frozen):
    incident_id = declare(api)["id"]
    for minutes, status in ((5, "identified"), (20, "monitoring"), (30, "resolved")):
        clock.advance(minutes=minutes)
        response = api.post(f"/api/v1/incidents/{incident_id}/updates",
                            json={"status": status, "message": f"now {status}"})
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["incident"]["status"] == status
    resolved = api.get(f"/api/v1/incidents/{incident_id}").get_json()
    assert resolved["resolved_at"] == "2026-11-22T09:55:00+00:00"

    reopened = api.post(f"/api/v1/incidents/{incident_id}/updates",
                        json={"status": "investigating", "message": "It is back"})
    assert reopened.status_code == 201
    assert reopened.get_json()["incident"]["resolved_at"] is None

    events = api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"]
    changes = [(e["data"]["from"], e["data"]["to"], e["data"]["reopened"]) for e in events if e["kind"] == "status_changed"]
    assert changes == [("investigating", "identified", False), ("identified", "monitoring", False),
                       ("monitoring", "resolved", False), ("resolved", "investigating", True)]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)


def test_an_update_without_a_status_change_is_posted(api):
    incident_id = declare(api)["id"]
    response = api.post(f"/api/v1/incidents/{incident_id}/updates", json={"message": "Still looking"})
    assert response.status_code == 201
    updates = api.get(f"/api/v1/incidents/{incident_id}/updates").get_json()["items"]
    assert [(u["status"], u["message"]) for u in updates] == [("investigating", "Still looking")]
    kinds = [e["kind"] for e in api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"]]
    assert kinds[-1] == "update_posted"


def test_resolved_incident_cannot_jump_to_monitoring(app, api):
    incident_id = declare(api)["id"]
    api.post(f"/api/v1/incidents/{incident_id}/updates", json={"status": "resolved", "message": "fixed"})
    before = count_rows(app, *TABLES)
    response = api.post(f"/api/v1/incidents/{incident_id}/updates", json={"status": "monitoring"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_transition"
    assert count_rows(app, *TABLES) == before


def test_patch_changes_fields_and_records_them(api):
    incident_id = declare(api)["id"]
    response = api.patch(f"/api/v1/incidents/{incident_id}", json={"severity": "SEV2", "services": ["login"]})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["severity"], body["services"]) == ("SEV2", ["login"])
    events = api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"]
    assert events[-1]["kind"] == "updated"
    assert events[-1]["data"]["changes"] == {"severity": ["SEV1", "SEV2"], "services": [["api", "login"], ["login"]]}
    assert events[-2]["kind"] == "severity_changed"


def test_notes_go_on_the_timeline(api_as, api):
    incident_id = declare(api)["id"]
    agent = api_as("agent")
    response = agent.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": "Customer X reports 502s"})
    assert response.status_code == 201
    last = api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"][-1]
    assert (last["kind"], last["actor"], last["data"]["text"]) == ("note", agent.email, "Customer X reports 502s")


def test_list_filters_and_paginates(api):
    ids = [declare(api, title=f"Outage {n}")["id"] for n in range(5)]
    api.post(f"/api/v1/incidents/{ids[0]}/updates", json={"status": "resolved", "message": "done"})
    page = api.get("/api/v1/incidents?status=open&per_page=2&page=2").get_json()
    assert (page["total"], page["page"], page["per_page"]) == (4, 2, 2)
    assert len(page["items"]) == 2
    assert [i["id"] for i in api.get("/api/v1/incidents?status=resolved").get_json()["items"]] == [ids[0]]
    assert api.get("/api/v1/incidents?status=all").get_json()["total"] == 5
    assert api.get("/api/v1/incidents?status=bogus").status_code == 422
    assert api.get("/api/v1/incidents?per_page=501").status_code == 422
    assert api.get("/api/v1/incidents?page=abc").status_code == 422


def test_unknown_incident_is_404(api):
    for path in ("/api/v1/incidents/999", "/api/v1/incidents/abc", "/api/v1/incidents/999/timeline"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "incident_not_found"


BAD_DECLARATIONS = [
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 500}, "title"),
    ({"severity": "SEV9"}, "severity"),
    ({"severity": None}, "severity"),
    ({"mode": "chaos"}, "mode"),
    ({"services": ["Not A Slug!"]}, "services.0"),
    ({"commander": "nobody@example.com"}, "user"),
    ({"commander": "not-an-email"}, "commander"),
    ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize("change, field", BAD_DECLARATIONS)
def test_bad_declarations_are_refused_and_change_nothing(app, api, change, field):
    before = count_rows(app, *TABLES)
    response = api.post("/api/v1/incidents", json={**DECLARE, **change})
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] in {"validation_error", "unknown_user"}
    assert field in error["details"]
    assert count_rows(app, *TABLES) == before


def test_malformed_json_and_wrong_content_type(app, api):
    before = count_rows(app, *TABLES)
    malformed = api.post("/api/v1/incidents", data="{not json", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    assert malformed.get_json()["error"]["code"] == "malformed_json"
    form = api.post("/api/v1/incidents", data={"title": "x"})
    assert form.status_code == 415
    array = api.post("/api/v1/incidents", json=[1, 2])
    assert array.status_code == 400
    assert count_rows(app, *TABLES) == before


@pytest.mark.parametrize("bad", [{"status": "exploding"}, {"message": "x" * 5001}, {}, {"public": "maybe"}])
def test_bad_updates_are_refused(app, api, bad):
    incident_id = declare(api)["id"]
    before = count_rows(app, *TABLES)
    response = api.post(f"/api/v1/incidents/{incident_id}/updates", json=bad)
    assert response.status_code == 422
    assert count_rows(app, *TABLES) == before


def test_tokens_and_permissions(app, client, api_as, runner):
    assert client.get("/api/v1/incidents").status_code == 401
    bad = client.get("/api/v1/incidents", headers={"Authorization": "Bearer tcs_nope"})
    assert bad.status_code == 401
    assert bad.get_json()["error"]["code"] == "unauthorized"
    assert client.get("/api/v1/incidents", headers={"Authorization": "Basic abc"}).status_code == 401

    viewer = api_as("viewer")
    assert viewer.get("/api/v1/incidents").status_code == 200
    before = count_rows(app, *TABLES)
    refused = viewer.post("/api/v1/incidents", json=DECLARE)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
    assert count_rows(app, *TABLES) == before

    lead = api_as("lead")
    assert lead.post("/api/v1/incidents", json=DECLARE).status_code == 201
    result = runner.invoke(args=["tokens", "revoke", lead.token[:12]])
    assert result.exit_code == 0, result.output
    assert lead.get("/api/v1/incidents").status_code == 401


def test_unknown_api_paths_and_methods_answer_json(api):
    missing = api.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = api.put("/api/v1/incidents", json={})
    assert wrong.status_code == 405 and "error" in wrong.get_json()
