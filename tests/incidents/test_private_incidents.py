"""Private incidents: only members and admins see one, on every surface; never on the status page
unless a lead makes it public; a "security breach" ticket makes its incident private by itself."""
from __future__ import annotations

import pytest

from ..helpers import declare, ingest, logged_in
from ..status_helpers import component, update


@pytest.fixture
def people(api_as):
    """A lead who declares, a lead and a viewer who are not members, an admin, an engineer."""
    return {role: api_as(role, f"{role}@example.com") for role in ("viewer", "engineer", "admin")} | {
        "declarer": api_as("lead", "declarer@example.com"), "other_lead": api_as("lead", "other@example.com")}


@pytest.fixture
def breach(people):
    """A private SEV1 on `login`, with a public update and a known-issue entry."""
    incident = declare(people["declarer"], title="Credential stuffing on login", severity="SEV1", services=["login"],
                       private=True)
    assert incident["private"] is True
    update(people["declarer"], incident["id"], "We are investigating sign-in problems.")
    assert people["declarer"].put(f"/api/v1/incidents/{incident['id']}/known-issue", json={
        "symptoms": "Accounts locked after a wave of failed logins", "tags": ["login"]}).status_code in (200, 201)
    return incident["id"]


def visible_ids(client_api) -> set[int]:
    return {i["id"] for i in client_api.get("/api/v1/incidents").get_json()["items"]}


def test_only_members_and_admins_see_a_private_incident(people, breach):
    public = declare(people["declarer"], title="Slow exports", severity="SEV3")["id"]
    for who in ("viewer", "other_lead", "engineer"):
        api = people[who]
        assert visible_ids(api) == {public}, who
        for path in ("", "/timeline", "/updates", "/tickets", "/members", "/escalation", "/broadcasts", "/known-issue"):
            response = api.get(f"/api/v1/incidents/{breach}{path}")
            assert response.status_code == 404, (who, path, response.status_code)
        assert api.post(f"/api/v1/incidents/{breach}/notes", json={"text": "x"}).status_code in (403, 404)
    assert people["other_lead"].post(f"/api/v1/incidents/{breach}/updates",
                                     json={"message": "hi"}).status_code == 404
    for who in ("declarer", "admin"):
        assert visible_ids(people[who]) == {public, breach}, who
        assert people[who].get(f"/api/v1/incidents/{breach}").get_json()["private"] is True


def test_members_come_by_role_and_by_a_lead_adding_them(people, breach):
    declarer, other = people["declarer"], people["other_lead"]
    assert declarer.put(f"/api/v1/incidents/{breach}/roles/technical_lead",
                        json={"user": "engineer@example.com"}).status_code == 200
    assert people["engineer"].get(f"/api/v1/incidents/{breach}").status_code == 200      # a role makes a member
    added = declarer.post(f"/api/v1/incidents/{breach}/members", json={"email": "other@example.com"})
    assert added.status_code == 201
    assert [(m["user"], m["how"]) for m in added.get_json()["items"]] == [
        ("declarer@example.com", "declared"), ("engineer@example.com", "role"), ("other@example.com", "added")]
    assert other.get(f"/api/v1/incidents/{breach}").status_code == 200
    assert declarer.post(f"/api/v1/incidents/{breach}/members", json={"email": "other@example.com"}).status_code == 200
    assert declarer.post(f"/api/v1/incidents/{breach}/members", json={"email": "nobody@example.com"}).status_code == 422
    assert people["viewer"].post(f"/api/v1/incidents/{breach}/members",
                                 json={"email": "viewer@example.com"}).status_code == 403
    removed = declarer.delete(f"/api/v1/incidents/{breach}/members/other@example.com")
    assert removed.status_code == 200 and "other@example.com" not in [m["user"] for m in removed.get_json()["items"]]
    assert other.get(f"/api/v1/incidents/{breach}").status_code == 404
    assert declarer.delete(f"/api/v1/incidents/{breach}/members/other@example.com").status_code == 404
    kinds = [e["kind"] for e in declarer.get(f"/api/v1/incidents/{breach}/timeline").get_json()["items"]]
    assert kinds.count("member_added") == 1 and kinds.count("member_removed") == 1


def test_reports_search_and_action_items_leave_it_out(people, breach):
    public = declare(people["declarer"], title="Slow exports", severity="SEV3")["id"]
    for who, expected in (("viewer", 1), ("admin", 2), ("declarer", 2)):
        summary = people[who].get("/api/v1/reports/summary").get_json()
        assert summary["incidents"] == expected, who
        csv = people[who].get("/api/v1/reports/incidents.csv").get_data(as_text=True)
        assert ("Credential stuffing" in csv) is (expected == 2) and "Slow exports" in csv
        found = people[who].get("/api/v1/known-issues", query_string={"q": "failed logins"}).get_json()["items"]
        assert len(found) == expected - 1, who
    declarer = people["declarer"]
    update(declarer, breach, "Contained.", status="resolved")
    assert declarer.post(f"/api/v1/incidents/{breach}/action-items", json={
        "title": "Rate-limit logins", "owner": "declarer@example.com", "due_on": "2099-01-01"}).status_code == 201
    assert declarer.get("/api/v1/action-items").get_json()["total"] == 1
    assert people["viewer"].get("/api/v1/action-items").get_json()["total"] == 0
    assert people["viewer"].get(f"/api/v1/incidents/{breach}/review").status_code == 404
    assert public


def test_it_never_reaches_the_status_page_until_a_lead_makes_it_public(client, people, breach):
    component(people["admin"], "Login", service="login")
    page = client.get("/api/v2/summary.json").get_json()
    assert page["incidents"] == [] and page["components"][0]["status"] == "operational"
    assert "Credential stuffing" not in client.get("/status").get_data(as_text=True)
    assert "Credential stuffing" not in client.get("/status/feed.atom").get_data(as_text=True)
    assert people["viewer"].patch(f"/api/v1/incidents/{breach}", json={"private": False}).status_code == 403
    made_public = people["declarer"].patch(f"/api/v1/incidents/{breach}", json={"private": False})
    assert made_public.status_code == 200 and made_public.get_json()["private"] is False
    page = client.get("/api/v2/summary.json").get_json()
    assert [i["name"] for i in page["incidents"]] == ["Credential stuffing on login"]
    assert page["components"][0]["status"] == "major_outage"
    assert people["viewer"].get(f"/api/v1/incidents/{breach}").status_code == 200
    # and private again: off the page at once, the component back to operational
    assert people["declarer"].patch(f"/api/v1/incidents/{breach}", json={"private": True}).status_code == 200
    page = client.get("/api/v2/summary.json").get_json()
    assert page["incidents"] == [] and page["components"][0]["status"] == "operational"
    kinds = [e["kind"] for e in people["admin"].get(f"/api/v1/incidents/{breach}/timeline").get_json()["items"]]
    assert kinds.count("made_public") == 1 and kinds.count("made_private") == 1


def test_a_security_breach_ticket_makes_its_incident_private(people):
    lead = people["declarer"]
    policy = {"levels": [{"name": "L1", "targets": [{"user": "other@example.com"}], "ack_timeout_seconds": 3600,
                          "channels": ["email"]},
                         {"name": "engineering", "targets": [{"user": "engineer@example.com"}],
                          "ack_timeout_seconds": 900, "channels": ["email"]}]}
    assert people["admin"].put("/api/v1/escalation-policies/default", json=policy).status_code in (200, 201)
    incident = declare(lead, title="Odd logins", severity="SEV2")["id"]
    ingest(lead, {"tickets": [
        {"external_id": "ZD-1", "source": "email", "subject": "Data loss in my exports", "tags": ["login"]},
        {"external_id": "ZD-2", "source": "email", "subject": "I think this is a Security Breach", "tags": ["login"]},
        {"external_id": "ZD-3", "source": "email", "subject": "Cannot log in", "tags": ["login"]}]})
    assert people["viewer"].get(f"/api/v1/incidents/{incident}").status_code == 200
    linked = lead.post(f"/api/v1/incidents/{incident}/tickets", json={"filter": {"tags": ["login"]}})
    assert linked.status_code == 200 and linked.get_json()["linked"] == 3
    assert people["viewer"].get(f"/api/v1/incidents/{incident}").status_code == 404
    body = lead.get(f"/api/v1/incidents/{incident}").get_json()
    assert body["private"] is True and body["escalation"]["level"] == "engineering"
    [event] = [e for e in lead.get(f"/api/v1/incidents/{incident}/timeline").get_json()["items"]
               if e["kind"] == "made_private"]
    assert event["actor"] == "system" and event["data"]["reason"] == "ticket ZD-2 mentions “security breach”"
    # the engineer paged for it is a member: they can see what they were woken for; L1, never paged, cannot
    assert people["engineer"].get(f"/api/v1/incidents/{incident}").status_code == 200
    assert people["other_lead"].get(f"/api/v1/incidents/{incident}").status_code == 404


def test_its_tickets_show_no_link_to_it_for_others(client, make_user, people, breach):
    lead = people["declarer"]
    ingest(lead, {"tickets": [{"external_id": "ZD-9", "source": "email", "subject": "Locked out", "tags": ["login"]}]})
    assert lead.post(f"/api/v1/incidents/{breach}/tickets", json={"external_ids": ["ZD-9"]}).status_code == 200
    [mine] = lead.get("/api/v1/tickets").get_json()["items"]
    [theirs] = people["viewer"].get("/api/v1/tickets").get_json()["items"]
    assert mine["incident_id"] == breach and mine["link_method"] == "manual"
    assert theirs["incident_id"] is None and theirs["link_method"] is None and theirs["subject"] == "Locked out"
    assert people["viewer"].get("/api/v1/tickets", query_string={"incident_id": breach}).status_code == 404
    logged_in(client, make_user, role="viewer", email="web-viewer@example.com")
    page = client.get("/tickets", query_string={"linked": "all"}).get_data(as_text=True)
    assert "Locked out" in page and f"INC-{breach}" not in page


def test_the_web_pages_hide_it_and_leads_manage_it(client, make_user, people, breach):
    logged_in(client, make_user, role="viewer", email="web-viewer@example.com")
    assert "Credential stuffing" not in client.get("/").get_data(as_text=True)
    assert "Credential stuffing" not in client.get("/incidents").get_data(as_text=True)
    assert client.get(f"/incidents/{breach}").status_code == 404
    client.get("/logout")
    logged_in(client, make_user, role="admin", email="web-admin@example.com")
    page = client.get(f"/incidents/{breach}").get_data(as_text=True)
    assert "Only its members and admins see this incident" in page and "Make public" in page
    assert 'class="badge private"' in client.get("/incidents").get_data(as_text=True)
