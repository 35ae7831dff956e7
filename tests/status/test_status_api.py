"""The Statuspage-compatible /api/v2: every document, field by field, against Statuspage's
documented shapes; only public updates; ETag, Cache-Control and 304; bad paths and methods."""
from __future__ import annotations

import json

import pytest

from incident import clock

from ..status_helpers import component, component_ids, incident, is_iso, update

PAGE_KEYS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_KEYS = {"id", "name", "status", "created_at", "updated_at", "position", "description", "showcase",
                  "start_date", "group_id", "page_id", "group", "only_show_if_degraded"}
INCIDENT_KEYS = {"id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact",
                 "shortlink", "started_at", "page_id", "incident_updates", "components"}
UPDATE_KEYS = {"id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
               "affected_components", "deliver_notifications", "custom_tweet", "tweet_id"}
MAINTENANCE_KEYS = INCIDENT_KEYS | {"scheduled_for", "scheduled_until"}
COMPONENT_STATUSES = {"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}
INDICATORS = {"none": "All Systems Operational", "minor": "Minor Service Outage", "major": "Partial System Outage",
              "critical": "Major System Outage", "maintenance": "Service Under Maintenance"}


@pytest.fixture(autouse=True)
def _fresh_snapshot(app):
    app.config["STATUS_SNAPSHOT_CHECK_SECONDS"] = 0
    yield
    app.extensions.pop("status_snapshot", None)


def check_page(page):
    assert set(page) == PAGE_KEYS
    assert page["id"] == "tocsin" and page["name"] == "Tocsin" and page["url"] == "http://tocsin.test/status"
    assert page["time_zone"] == "Etc/UTC" and is_iso(page["updated_at"])


def check_component(c):
    assert set(c) == COMPONENT_KEYS | ({"components"} if c["group"] else set())
    assert isinstance(c["id"], str) and isinstance(c["name"], str) and c["status"] in COMPONENT_STATUSES
    assert is_iso(c["created_at"]) and is_iso(c["updated_at"]) and isinstance(c["position"], int)
    assert c["description"] is None or isinstance(c["description"], str)
    assert isinstance(c["showcase"], bool) and isinstance(c["group"], bool)
    assert isinstance(c["only_show_if_degraded"], bool) and c["page_id"] == "tocsin"
    assert c["group_id"] is None or isinstance(c["group_id"], str)
    assert len(c["start_date"]) == 10


def check_update(u, parent_id, statuses):
    assert set(u) == UPDATE_KEYS
    assert isinstance(u["id"], str) and u["incident_id"] == parent_id and u["status"] in statuses
    assert isinstance(u["body"], str)
    assert is_iso(u["created_at"]) and is_iso(u["updated_at"]) and is_iso(u["display_at"])
    assert u["deliver_notifications"] is True and u["custom_tweet"] is None and u["tweet_id"] is None


def check_incident(i):
    assert set(i) == INCIDENT_KEYS
    assert i["status"] in {"investigating", "identified", "monitoring", "resolved", "postmortem"}
    assert i["impact"] in {"none", "minor", "major", "critical"}
    assert is_iso(i["created_at"]) and is_iso(i["updated_at"]) and is_iso(i["started_at"])
    assert i["shortlink"].startswith("http://tocsin.test/status") and i["page_id"] == "tocsin"
    for key in ("monitoring_at", "resolved_at"):
        assert i[key] is None or is_iso(i[key])
    for u in i["incident_updates"]:
        check_update(u, i["id"], {"investigating", "identified", "monitoring", "resolved"})
    for c in i["components"]:
        check_component(c)


def check_maintenance(m):
    assert set(m) == MAINTENANCE_KEYS
    assert m["status"] in {"scheduled", "in_progress", "verifying", "completed"} and m["impact"] == "maintenance"
    assert is_iso(m["scheduled_for"]) and is_iso(m["scheduled_until"])
    for u in m["incident_updates"]:
        check_update(u, m["id"], {"scheduled", "in_progress", "verifying", "completed"})


@pytest.fixture
def outage(api, frozen):
    """A group with Login, plus API; a SEV2 on login with one public and one internal update."""
    component(api, "Login", group="Core platform", description="Sign-in and SSO")
    component(api, "API", service="api")
    component(api, "Billing", service="billing")
    incident_id = incident(api, "Login failing for EU customers", "SEV2", ["login"])
    clock.advance(minutes=5)
    update(api, incident_id, "We are looking into failed logins.", status="investigating")
    clock.advance(minutes=5)
    update(api, incident_id, "Suspect the ACME contract; ping Bo on +393471234567", public=False)
    api.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": "INTERNAL NOTE rollback plan"})
    clock.advance(minutes=5)
    update(api, incident_id, "Bad deploy found; rolling back.", status="identified")
    return incident_id


def test_summary_matches_statuspage_shape_and_values(client, outage):
    body = client.get("/api/v2/summary.json").get_json()
    assert set(body) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
    check_page(body["page"])
    for c in body["components"]:
        check_component(c)
    by_name = {c["name"]: c for c in body["components"]}
    group, login = by_name["Core platform"], by_name["Login"]
    assert group["group"] is True and group["components"] == [login["id"]] and group["showcase"] is False
    assert login["group_id"] == group["id"] and login["description"] == "Sign-in and SSO"
    assert login["status"] == "partial_outage" and group["status"] == "partial_outage"   # SEV2 on login
    assert by_name["API"]["status"] == "operational" and by_name["API"]["description"] is None
    assert body["status"] == {"indicator": "major", "description": "Partial System Outage"}
    [inc] = body["incidents"]
    check_incident(inc)
    assert inc["name"] == "Login failing for EU customers" and inc["status"] == "identified"
    assert inc["impact"] == "major" and inc["resolved_at"] is None
    assert [u["body"] for u in inc["incident_updates"]] == ["Bad deploy found; rolling back.",
                                                            "We are looking into failed logins."]
    assert [u["status"] for u in inc["incident_updates"]] == ["identified", "investigating"]
    assert [c["name"] for c in inc["components"]] == ["Login"]
    assert inc["created_at"] == "2026-11-22T09:05:00.000+00:00" and inc["started_at"] == "2026-11-22T09:00:00.000+00:00"
    assert body["scheduled_maintenances"] == []


def test_internal_notes_roles_tickets_and_customers_never_appear(client, outage):
    texts = [client.get(path).get_data(as_text=True) for path in (
        "/api/v2/summary.json", "/api/v2/incidents.json", "/status", "/status?lang=it", "/status/feed.atom")]
    for text in texts:
        for secret in ("ACME", "+393471234567", "INTERNAL NOTE", "lead@example.com", "commander"):
            assert secret not in text


def test_every_document_has_its_statuspage_shape(client, api, outage):
    api.post("/api/v1/status/maintenances", json={
        "name": "Database upgrade", "message": "Read-only for 30 minutes.", "components": [component_ids(api)["API"]],
        "scheduled_for": "2026-11-23T01:00:00+00:00", "scheduled_until": "2026-11-23T02:00:00+00:00"})
    status = client.get("/api/v2/status.json").get_json()
    assert set(status) == {"page", "status"} and status["status"]["indicator"] in INDICATORS
    assert status["status"]["description"] == INDICATORS[status["status"]["indicator"]]
    components = client.get("/api/v2/components.json").get_json()
    assert set(components) == {"page", "components"} and len(components["components"]) == 4
    for name in ("incidents.json", "incidents/unresolved.json"):
        body = client.get(f"/api/v2/{name}").get_json()
        assert set(body) == {"page", "incidents"}
        check_page(body["page"])
        [inc] = body["incidents"]
        check_incident(inc)
    for name in ("scheduled-maintenances.json", "scheduled-maintenances/upcoming.json"):
        body = client.get(f"/api/v2/{name}").get_json()
        assert set(body) == {"page", "scheduled_maintenances"}
        [m] = body["scheduled_maintenances"]
        check_maintenance(m)
        assert m["name"] == "Database upgrade" and m["status"] == "scheduled"
        assert m["scheduled_for"] == "2026-11-23T01:00:00.000+00:00"
        assert [c["name"] for c in m["components"]] == ["API"]
        assert m["incident_updates"][0]["body"] == "Read-only for 30 minutes."
    assert client.get("/api/v2/scheduled-maintenances/active.json").get_json()["scheduled_maintenances"] == []
    summary = client.get("/api/v2/summary.json").get_json()
    assert [m["name"] for m in summary["scheduled_maintenances"]] == ["Database upgrade"]


def test_resolved_incident_leaves_unresolved_but_stays_in_history(client, api, outage):
    clock.advance(minutes=30)
    update(api, outage, "Monitoring the fix.", status="monitoring")
    clock.advance(minutes=30)
    update(api, outage, "All good now.", status="resolved")
    assert client.get("/api/v2/incidents/unresolved.json").get_json()["incidents"] == []
    [inc] = client.get("/api/v2/incidents.json").get_json()["incidents"]
    assert inc["status"] == "resolved" and inc["resolved_at"] == "2026-11-22T10:15:00.000+00:00"
    assert inc["monitoring_at"] == "2026-11-22T09:45:00.000+00:00"
    summary = client.get("/api/v2/summary.json").get_json()
    assert summary["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert {c["status"] for c in summary["components"]} == {"operational"}


def test_an_incident_with_only_internal_updates_is_not_on_the_page(client, api, frozen):
    component(api, "Login")
    incident_id = incident(api, "Secret thing", "SEV1", ["login"])
    update(api, incident_id, "internal", public=False)
    body = client.get("/api/v2/summary.json").get_json()
    assert body["incidents"] == [] and body["status"]["indicator"] == "none"
    assert "Secret thing" not in client.get("/status").get_data(as_text=True)


def test_impact_is_derived_from_severity_and_editable(client, api, outage):
    view = api.get(f"/api/v1/incidents/{outage}/status-impact").get_json()
    assert view["impact"] == "major" and view["components"][0]["status"] == "partial_outage"
    ids = component_ids(api)
    response = api.put(f"/api/v1/incidents/{outage}/status-impact", json={
        "impact": "critical", "components": {str(ids["Login"]): "major_outage", str(ids["API"]): "degraded_performance"}})
    assert response.status_code == 200, response.get_json()
    body = client.get("/api/v2/summary.json").get_json()
    states = {c["name"]: c["status"] for c in body["components"]}
    assert states["Login"] == "major_outage" and states["API"] == "degraded_performance"
    assert body["incidents"][0]["impact"] == "critical"
    assert body["status"] == {"indicator": "critical", "description": "Major System Outage"}
    api.put(f"/api/v1/incidents/{outage}/status-impact", json={"impact": None, "components": {str(ids["API"]): None}})
    body = client.get("/api/v2/summary.json").get_json()
    assert body["incidents"][0]["impact"] == "major"
    assert {c["name"]: c["status"] for c in body["components"]}["API"] == "operational"
    bad = api.put(f"/api/v1/incidents/{outage}/status-impact", json={"impact": "apocalyptic"})
    assert bad.status_code == 422
    unknown = {"components": {"999": "major_outage"}}
    assert api.put(f"/api/v1/incidents/{outage}/status-impact", json=unknown).status_code == 404
    group = str(ids["Core platform"])
    assert (
        api.put(f"/api/v1/incidents/{outage}/status-impact", json={"components": {group: "major_outage"}}).status_code == 422
    )


def test_etag_cache_control_and_304(client, outage):
    for path in ("/api/v2/summary.json", "/api/v2/status.json", "/status", "/status/feed.atom"):
        first = client.get(path)
        assert first.status_code == 200
        etag = first.headers["ETag"]
        assert etag.startswith('"') and "max-age=" in first.headers["Cache-Control"]
        assert "public" in first.headers["Cache-Control"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
        assert client.get(path, headers={"If-None-Match": '"something-else"'}).status_code == 200
    assert client.get("/api/v2/summary.json").headers["Access-Control-Allow-Origin"] == "*"
    assert client.get("/status").headers["Vary"] == "Accept-Language"


def test_unknown_paths_and_methods(client, outage):
    assert client.get("/api/v2/nothing.json").status_code == 404
    assert client.get("/api/v2/nothing.json").get_json()["error"]["code"] == "not_found"
    assert client.get("/api/v2/../v1/incidents").status_code in (401, 404)
    assert client.get("/status/nothing").status_code == 404
    for path in ("/api/v2/summary.json", "/status", "/status/feed.atom"):
        for method in ("post", "put", "delete", "patch"):
            assert getattr(client, method)(path).status_code == 405


def test_query_strings_and_headers_cannot_inject(client, outage):
    evil = '"><script>alert(1)</script>'
    for response in (
        client.get("/status?lang=" + evil),
        client.get("/status?x=" + evil),
        client.get("/status", headers={"Accept-Language": evil, "Referer": evil, "Host": "evil.test"}),
    ):
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert "<script>alert(1)" not in text and "evil.test" not in text
    english = client.get("/status?lang=" + evil)
    assert english.headers["ETag"] == client.get("/status?lang=en").headers["ETag"]


def test_customer_text_is_escaped(client, api, frozen):
    component(api, "Login")
    incident_id = incident(api, "<img src=x onerror=alert(1)>", "SEV3", ["login"])
    update(api, incident_id, "<script>alert('x')</script> & more", status="investigating")
    html = client.get("/status").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    body = json.loads(client.get("/api/v2/incidents.json").data)
    assert body["incidents"][0]["incident_updates"][0]["body"] == "<script>alert('x')</script> & more"


def test_staff_api_needs_a_token_and_the_permission(client, api_as, frozen):
    assert client.get("/api/v1/status/components").status_code == 401
    viewer = api_as("viewer")
    assert viewer.get("/api/v1/status/components").status_code == 200
    assert viewer.post("/api/v1/status/components", json={"name": "X"}).status_code == 403
    lead = api_as("lead")
    assert lead.post("/api/v1/status/components", json={"name": ""}).status_code == 422
    assert lead.post("/api/v1/status/components", json={"name": "X", "colour": "red"}).status_code == 422
    assert lead.patch("/api/v1/status/components/999", json={"name": "Y"}).status_code == 404
    created = lead.post("/api/v1/status/components", json={"name": "Payments & cards"}).get_json()
    assert created["service"] == "payments-cards"
    edited = lead.patch(f"/api/v1/status/components/{created['id']}", json={"description": "Cards"}).get_json()
    assert edited["description"] == "Cards"
    assert lead.delete(f"/api/v1/status/components/{created['id']}").status_code == 200
    assert lead.get("/api/v1/status/components").get_json()["items"] == []


def test_staff_page_manages_components_maintenance_and_impact(client, make_user, api, outage):
    from ..web_helpers import login, post_form

    make_user("ana@example.com", role="lead", password="correct horse battery")
    assert client.get("/status/manage").status_code == 302
    login(client, "ana@example.com", "correct horse battery")
    page = client.get("/status/manage")
    assert page.status_code == 200 and "Login failing for EU customers" in page.get_data(as_text=True)
    post_form(client, "/status/manage/components", {"name": "Webhooks", "group": "Core platform"}, page="/status/manage")
    ids = component_ids(api)
    post_form(
        client,
        "/status/manage/maintenances",
        {
            "name": "Cert rotation",
            "scheduled_for": "2026-11-23T01:00",
            "scheduled_until": "2026-11-23T02:00",
            "components": str(ids["Webhooks"]),
        },
        page="/status/manage",
    )
    post_form(
        client,
        f"/status/manage/incidents/{outage}/impact",
        {"impact": "critical", f"component-{ids['Login']}": "major_outage"},
        page="/status/manage",
    )
    summary = client.get("/api/v2/summary.json").get_json()
    assert {c["name"]: c["status"] for c in summary["components"]}["Login"] == "major_outage"
    assert summary["incidents"][0]["impact"] == "critical"
    assert [m["name"] for m in summary["scheduled_maintenances"]] == ["Cert rotation"]
    assert "Webhooks" in {c["name"] for c in summary["components"]}
    bad = post_form(client, "/status/manage/maintenances", {"name": "x", "scheduled_for": "soon"}, page="/status/manage")
    assert bad.status_code == 302
    assert "Please correct the form" in client.get("/status/manage").get_data(as_text=True)
