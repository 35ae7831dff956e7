"""The review and action-item API: workflow, the frozen record, read-only once published, conflicts,
permissions, validation, lists, and the Markdown export; nothing of it reaches the status page."""
from __future__ import annotations

import pytest

from incident import clock

from ..conftest import count_rows
from ..helpers import declare, timeline
from .support import update

SECTIONS = {"summary": "Logins failed for 2 h.", "impact": "EU customers could not log in.",
            "root_cause": "A bad deploy.", "went_well": "Fast rollback.", "to_improve": "Canary deploys."}


@pytest.fixture
def resolved(api, frozen):
    incident = declare(api)
    update(api, incident["id"], "resolved", "fixed")
    return incident["id"]


def patch(api, iid, **body):
    return api.patch(f"/api/v1/incidents/{iid}/review", json=body)


def test_the_workflow_draft_review_publish_reopen(api, resolved):
    path = f"/api/v1/incidents/{resolved}/review"
    assert patch(api, resolved, status="published").status_code == 409   # one step at a time
    refused = patch(api, resolved, status="in_review")
    assert refused.status_code == 200 and refused.get_json()["status"] == "in_review"
    incomplete = patch(api, resolved, status="published")
    assert incomplete.status_code == 422 and incomplete.get_json()["error"]["code"] == "review_incomplete"
    assert api.get(path).get_json()["status"] == "in_review"   # refused: nothing changed
    published = patch(api, resolved, sections=SECTIONS, status="published").get_json()
    assert published["status"] == "published" and published["record_frozen"] is True
    assert published["published_at"] == "2026-11-22T09:00:00+00:00" and published["next_statuses"] == ["draft"]

    locked = patch(api, resolved, sections={"summary": "Rewritten"})
    assert locked.status_code == 409 and locked.get_json()["error"]["code"] == "review_published"
    assert patch(api, resolved, sections={"summary": SECTIONS["summary"]}).status_code == 200   # unchanged: fine
    item = api.post(f"/api/v1/incidents/{resolved}/action-items",
                    json={"title": "x", "owner": "lead@example.com", "due_on": "2026-12-01"})
    assert item.status_code == 409

    reopened = patch(api, resolved, status="draft", sections={"summary": "Rewritten"}).get_json()
    assert (reopened["status"], reopened["sections"]["summary"], reopened["record_frozen"]) == ("draft", "Rewritten", False)
    kinds = [(e["kind"], e["data"].get("to")) for e in timeline(api, resolved) if e["kind"].startswith("review")]
    assert kinds == [("review_opened", None), ("review_status_changed", "in_review"), ("review_published", None),
                     ("review_status_changed", "draft")]


def test_a_published_record_does_not_move_a_draft_one_does(api, resolved):
    patch(api, resolved, sections=SECTIONS, status="in_review")
    patch(api, resolved, status="published")
    clock.advance(hours=1)
    update(api, resolved, "investigating", "Reopened")   # the incident moves on after publishing
    published = api.get(f"/api/v1/incidents/{resolved}/review").get_json()
    assert published["key_times"]["resolved_at"] == "2026-11-22T09:00:00+00:00" and published["reopened"] == 0
    assert published["record_built_at"] == "2026-11-22T09:00:00+00:00"
    patch(api, resolved, status="draft")
    live = api.get(f"/api/v1/incidents/{resolved}/review").get_json()
    assert live["key_times"]["resolved_at"] is None and live["reopened"] == 1
    assert live["record_built_at"] == "2026-11-22T10:00:00+00:00"


def test_a_stale_version_is_refused(api, resolved):
    version = api.get(f"/api/v1/incidents/{resolved}/review").get_json()["version"]
    assert patch(api, resolved, sections={"summary": "first"}, version=version).status_code == 200
    stale = patch(api, resolved, sections={"summary": "second"}, version=version)
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "review_changed"
    assert api.get(f"/api/v1/incidents/{resolved}/review").get_json()["sections"]["summary"] == "first"


@pytest.mark.parametrize("body", [{}, {"version": 1}, {"sections": {}}, {"sections": {"summary": None}},
                                  {"status": "archived"}, {"key_times": {}}, {"sections": {"summary": "x" * 20_001}},
                                  {"sections": {"colour": "red"}}])
def test_bad_patches_are_refused_and_change_nothing(api, resolved, body):
    answer = patch(api, resolved, **body)
    assert answer.status_code == 422, answer.get_json()
    review = api.get(f"/api/v1/incidents/{resolved}/review").get_json()
    assert review["status"] == "draft" and review["sections"]["summary"] == "" and review["version"] == 1


def test_permissions(api, api_as, client, resolved):
    path = f"/api/v1/incidents/{resolved}/review"
    assert client.get(path).status_code == 401
    viewer, agent, engineer = api_as("viewer"), api_as("agent"), api_as("engineer")
    assert viewer.get(path).status_code == 200 and viewer.get(path + ".md").status_code == 200
    for who in (viewer, agent, engineer):
        assert who.patch(path, json={"sections": {"summary": "mine"}}).status_code == 403
        assert who.post(f"/api/v1/incidents/{resolved}/action-items", json={
            "title": "x", "owner": who.email, "due_on": "2026-12-01"}).status_code == 403
    item = api.post(f"/api/v1/incidents/{resolved}/action-items",
                    json={"title": "Add a canary", "owner": viewer.email, "due_on": "2026-12-01"}).get_json()
    item_path = f"/api/v1/action-items/{item['id']}"
    assert agent.patch(item_path, json={"state": "done"}).status_code == 403        # not theirs
    assert viewer.patch(item_path, json={"due_on": "2026-12-24"}).status_code == 403  # the owner moves the state only
    assert viewer.patch(item_path, json={"state": "done"}).get_json()["state"] == "done"
    assert api.patch(item_path, json={"state": "open", "due_on": "2026-12-24"}).get_json()["due_on"] == "2026-12-24"


def test_action_items_are_checked(api, api_as, resolved):
    path = f"/api/v1/incidents/{resolved}/action-items"
    good = {"title": "Add a canary", "owner": "lead@example.com", "due_on": "2026-12-01"}
    for bad, field in [({"url": "javascript:alert(1)"}, "url"), ({"url": "ftp://files.example.com/x"}, "url"),
                       ({"url": "https://"}, "url"), ({"url": "https://x.example/a b"}, "url"),
                       ({"url": "https://x.example/\"><script>"}, "url"), ({"due_on": "01/12/2026"}, "due_on"),
                       ({"due_on": "2026-02-30"}, "due_on"), ({"due_on": "2026-12-01T00:00:00Z"}, "due_on"),
                       ({"title": " "}, "title"), ({"owner": "not-an-email"}, "owner")]:
        answer = api.post(path, json={**good, **bad})
        assert answer.status_code == 422 and field in answer.get_json()["error"]["details"], (bad, answer.get_json())
    unknown = api.post(path, json={**good, "owner": "nobody@example.com"})
    assert unknown.status_code == 422 and unknown.get_json()["error"]["code"] == "unknown_owner"
    past = api.post(path, json={**good, "due_on": "2026-11-21"})
    assert past.status_code == 422 and past.get_json()["error"]["code"] == "due_in_the_past"
    assert count_rows(api.client.application, "action_items")["action_items"] == 0
    made = api.post(path, json={**good, "url": "https://tracker.example.com/ENG-1"})
    assert made.status_code == 201
    assert made.get_json() | {"id": 0} == {
        "id": 0, "incident_id": resolved, "reference": f"INC-{resolved}", "title": "Add a canary",
        "owner": "lead@example.com", "due_on": "2026-12-01", "state": "open", "url": "https://tracker.example.com/ENG-1",
        "overdue": False, "created_at": "2026-11-22T09:00:00+00:00", "created_by": "lead@example.com",
        "updated_at": "2026-11-22T09:00:00+00:00", "closed_at": None}
    assert api.post("/api/v1/incidents/999/action-items", json=good).status_code == 404
    assert api.patch("/api/v1/action-items/999", json={"state": "done"}).status_code == 404
    cleared = api.patch(f"/api/v1/action-items/{made.get_json()['id']}", json={"url": None, "title": "Canary deploys"})
    assert cleared.get_json()["url"] is None and cleared.get_json()["title"] == "Canary deploys"
    kinds = [e["kind"] for e in timeline(api, resolved)]
    assert "action_item_created" in kinds and "action_item_updated" in kinds


def test_listing_action_items_by_owner_state_and_overdue(api, api_as, make_user, resolved):
    make_user("amy@example.com", role="engineer")
    path = f"/api/v1/incidents/{resolved}/action-items"
    ids = [api.post(path, json={"title": title, "owner": owner, "due_on": due}).get_json()["id"]
           for title, owner, due in [("a", "amy@example.com", "2026-11-23"), ("b", "amy@example.com", "2026-11-30"),
                                     ("c", "lead@example.com", "2026-11-22"), ("d", "amy@example.com", "2026-11-24")]]
    api.patch(f"/api/v1/action-items/{ids[3]}", json={"state": "dropped"})
    clock.advance(days=3)   # the 25th: a and c are overdue, d was dropped
    listed = api.get("/api/v1/action-items?owner=AMY@example.com").get_json()
    assert [i["title"] for i in listed["items"]] == ["a", "d", "b"] and listed["total"] == 3
    overdue = api.get("/api/v1/action-items?overdue=true").get_json()["items"]
    assert [(i["title"], i["overdue"]) for i in overdue] == [("c", True), ("a", True)]
    assert [i["title"] for i in api.get("/api/v1/action-items?overdue=false").get_json()["items"]] == ["d", "b"]
    assert [i["title"] for i in api.get("/api/v1/action-items?state=dropped").get_json()["items"]] == ["d"]
    paged = api.get("/api/v1/action-items?per_page=2&page=2").get_json()
    assert (paged["page"], paged["per_page"], paged["total"], len(paged["items"])) == (2, 2, 4, 2)
    for bad in ("state=closed", "overdue=yes", "owner=nope", "per_page=501", "page=0"):
        answer = api.get(f"/api/v1/action-items?{bad}")
        assert answer.status_code == 422, bad


def test_the_markdown_export_of_the_scripted_incident(api, scripted):
    patch(api, scripted, sections={**SECTIONS, "root_cause": "Deploy <b>42</b> broke [login](javascript:x)."})
    api.post(f"/api/v1/incidents/{scripted}/action-items", json={
        "title": "Canary | deploys", "owner": "bo@example.com", "due_on": "2026-12-01",
        "url": "https://tracker.example.com/ENG-7"})
    answer = api.get(f"/api/v1/incidents/{scripted}/review.md")
    assert answer.status_code == 200 and answer.content_type == "text/markdown; charset=utf-8"
    text = answer.get_data(as_text=True)
    assert text.startswith(f"# INC-{scripted} Login failing for EU customers: post-incident review\n")
    for line in ["| Declared | 2026-11-22 09:00 UTC | +0 min |", "| First page | 2026-11-22 09:03 UTC | +3 min |",
                 "| Acknowledged | 2026-11-22 10:05 UTC | +1 h 05 min |",
                 "| First public update | 2026-11-22 09:15 UTC | +15 min |",
                 "| Mitigated (monitoring) | 2026-11-22 10:20 UTC | +1 h 20 min |",
                 "| Resolved | 2026-11-22 11:20 UTC | +2 h 20 min |", "Acknowledged by eve@example.com.",
                 "Reopened 1 time before its last resolution.",
                 "Deploy <b>42</b> broke [login](javascript:x).",   # the section, as written
                 "| Canary \\| deploys | bo@example.com | 2026-12-01 | open | <https://tracker.example.com/ENG-7> |",
                 "| Incident commander | lead@example.com | 2026-11-22 09:00 UTC | 2026-11-22 09:45 UTC |",
                 "- 2026-11-22 09:12 UTC · investigating (internal): Internal: looking at the deploy — lead@example.com",
                 "Policy default; 1 SLA breach.", "| L1 | 2026-11-22 09:03 UTC | 2026-11-22 10:03 UTC | breached "
                 "2026-11-22 10:03 UTC | amy@example.com |",
                 "| apology | email | 2026-11-22 09:20 UTC | 1 | done | 3 | 0 | 0 | 0 |",
                 "30 linked tickets; top tags: eu (30), login (30).",
                 f"Flood chart: <http://tocsin.test/incidents/{scripted}/review/chart.svg>"]:
        assert line in text.splitlines(), line
    assert "| Resolved | 2026-11-22 11:20 UTC | +2 h 20 min |\n\nAcknowledged by" in text   # the table ends first
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## Summary", "## Customer impact", "## Key times", "## Root cause", "## What went well",
                        "## What to improve", "## Action items", "## The record"]


def test_nothing_of_a_review_reaches_the_status_page(app, api, client, resolved):
    update(api, resolved, None, "A public word")
    secret = "ZEBRA-internal-cause"
    patch(api, resolved, sections={**SECTIONS, "root_cause": secret}, status="in_review")
    patch(api, resolved, status="published")
    api.post(f"/api/v1/incidents/{resolved}/action-items",
             json={"title": secret, "owner": "lead@example.com", "due_on": "2026-12-01"})
    for path in ("/status", "/status/feed.atom", "/api/v2/summary.json", "/api/v2/incidents.json"):
        answer = client.get(path)
        assert answer.status_code == 200 and secret not in answer.get_data(as_text=True), path
    assert "A public word" in client.get("/api/v2/incidents.json").get_data(as_text=True)
