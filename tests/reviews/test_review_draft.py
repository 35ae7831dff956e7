"""The draft a review opens with, built from a scripted incident's record on the moved clock."""
from __future__ import annotations

import pytest

from incident.auth.service import get_user_by_email
from incident.extensions import db
from incident.incidents import service as incidents_service

from ..conftest import count_rows
from ..helpers import declare, logged_in, timeline
from .support import COMMS, ENGINEER, LEAD, SECOND_LEAD, at, update


def test_resolving_a_sev1_opens_one_review_with_the_record(app, api, scripted):
    kinds = [e["kind"] for e in timeline(api, scripted)]
    assert kinds.count("review_opened") == 1   # resolved twice, opened once
    review = api.get(f"/api/v1/incidents/{scripted}/review").get_json()
    assert review["status"] == "draft" and review["record_frozen"] is False
    assert review["key_times"] == {
        "declared_at": "2026-11-22T09:00:00+00:00",
        "first_paged_at": "2026-11-22T09:03:00+00:00",
        "acknowledged_at": "2026-11-22T10:05:00+00:00",
        "first_public_update_at": "2026-11-22T09:15:00+00:00",
        "mitigated_at": "2026-11-22T10:20:00+00:00",
        "resolved_at": "2026-11-22T11:20:00+00:00",
    }
    assert review["acknowledged_by"] == ENGINEER and review["reopened"] == 1
    assert [(t["role"], t["user"], t["from"][11:16], t["to"] and t["to"][11:16]) for t in review["roles"]] == [
        ("commander", LEAD, "09:00", "09:45"), ("communications", COMMS, "09:02", None),
        ("commander", SECOND_LEAD, "09:45", None)]
    assert [(u["at"][11:16], u["status"], u["public"]) for u in review["updates"]] == [
        ("09:12", "investigating", False), ("09:15", "identified", True), ("10:20", "monitoring", True),
        ("10:30", "identified", True), ("10:40", "monitoring", True), ("11:00", "resolved", True),
        ("11:10", "investigating", True), ("11:20", "resolved", True)]
    escalation = review["escalation"]
    assert escalation["policy"] == "default" and escalation["breaches"] == 1
    assert [(s["level"], s["paged_at"][11:16], bool(s["breached_at"]), bool(s["acknowledged_at"]))
            for s in escalation["steps"]] == [("L1", "09:03", True, False), ("L2", "10:03", False, True)]
    [apology] = review["broadcasts"]
    assert (apology["kind"], apology["sends"], apology["counts"]["sent"], apology["counts"]["failed"]) == (
        "apology", 1, 3, 0)
    tickets = review["tickets"]
    assert tickets["linked"] == 30 and tickets["top_tags"][0] == ["eu", 30]
    assert sum(n for _, n in tickets["buckets"]) == 30
    assert [label for _, label in tickets["markers"]][:3] == ["declared", "identified", "monitoring"]
    assert review["sections"] == {"summary": "", "impact": "", "root_cause": "", "went_well": "", "to_improve": ""}
    assert review["action_items"] == []


def test_a_merged_duplicate_is_listed_in_the_review_and_its_life_cycle_stays_its_own(app, api, client, make_user):
    """A duplicate that was mitigated and reopened before the merge: its notes move to the parent, its
    status changes do not (they would read as the parent's mitigation and reopening)."""
    at(0)
    parent = declare(api, title="Login down", severity="SEV1")["id"]
    at(5)
    duplicate = declare(api, title="Login broken", severity="SEV3")["id"]
    open_sev2 = declare(api, title="Login broken too", severity="SEV2")["id"]
    update(api, duplicate, "monitoring", "Looks fixed.")
    at(10)
    update(api, duplicate, "resolved", "Fixed.")
    update(api, duplicate, "investigating", "Not fixed.")
    assert api.post(f"/api/v1/incidents/{duplicate}/notes", json={"text": "seen first in Milan"}).status_code == 201
    at(20)
    assert api.post(f"/api/v1/incidents/{duplicate}/merge", json={"into": parent}).status_code == 200
    assert api.post(f"/api/v1/incidents/{open_sev2}/merge", json={"into": parent}).status_code == 200
    at(60)
    update(api, parent, "resolved", "Fixed for good.")
    review = api.get(f"/api/v1/incidents/{parent}/review").get_json()
    assert review["key_times"]["mitigated_at"] is None and review["reopened"] == 0
    assert [(m["reference"], m["title"], m["severity"]) for m in review["merged"]] == [
        (f"INC-{duplicate}", "Login broken", "SEV3"), (f"INC-{open_sev2}", "Login broken too", "SEV2")]
    assert "seen first in Milan" in [e["data"].get("text") for e in timeline(api, parent)]
    assert [e["data"]["to"] for e in timeline(api, duplicate) if e["kind"] == "status_changed"] == [
        "monitoring", "resolved", "investigating"]
    markdown = api.get(f"/api/v1/incidents/{parent}/review.md").get_data(as_text=True)
    assert f"Merged into it: INC-{duplicate} Login broken (SEV3, declared" in markdown
    assert count_rows(app, "reviews") == {"reviews": 1}   # a SEV2 closed by the merge opens no review of its own
    logged_in(client, make_user, role="viewer", email="vi@example.com")
    page = client.get(f"/incidents/{parent}/review").get_data(as_text=True)
    assert f'Merged into it: <a href="/incidents/{duplicate}">INC-{duplicate}</a> Login broken (SEV3)' in page


def test_minor_incidents_get_no_review_unless_a_lead_opens_one(app, api):
    incident = declare(api, severity="SEV3")
    update_path = f"/api/v1/incidents/{incident['id']}"
    assert api.post(f"{update_path}/updates", json={"status": "resolved", "message": "ok"}).status_code == 201
    missing = api.get(f"{update_path}/review")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "review_not_found"
    opened = api.post(f"{update_path}/review")
    assert opened.status_code == 201 and opened.get_json()["status"] == "draft"
    again = api.post(f"{update_path}/review")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "review_exists"
    kinds = [(e["kind"], e["data"].get("how")) for e in timeline(api, incident["id"])]
    assert ("review_opened", "by hand") in kinds


def test_an_open_incident_cannot_get_a_review_by_hand(api):
    incident = declare(api, severity="SEV3")
    refused = api.post(f"/api/v1/incidents/{incident['id']}/review")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "incident_open"


def test_review_severities_are_configurable(app, api, monkeypatch):
    monkeypatch.setitem(app.config, "REVIEW_SEVERITIES", frozenset({"SEV3"}))
    sev1, sev3 = declare(api, severity="SEV1"), declare(api, severity="SEV3")
    for incident in (sev1, sev3):
        update(api, incident["id"], "resolved", "fixed")
    assert api.get(f"/api/v1/incidents/{sev1['id']}/review").status_code == 404
    assert api.get(f"/api/v1/incidents/{sev3['id']}/review").status_code == 200


def test_the_review_opens_in_the_resolving_transaction(app, api, monkeypatch):
    """If resolving fails after the review was opened, neither lands."""
    incident = declare(api)

    def broken(*args, **kwargs):
        raise RuntimeError("Slack room unreachable")

    monkeypatch.setattr(incidents_service.slack_rooms, "post_to_room", broken)
    with app.app_context():
        user = get_user_by_email("lead@example.com")
        with pytest.raises(RuntimeError):
            incidents_service.post_update(user, incident["id"], status="resolved", message="fixed")
        db.session.remove()
    assert api.get(f"/api/v1/incidents/{incident['id']}").get_json()["status"] == "investigating"
    assert count_rows(app, "reviews")["reviews"] == 0
    assert "review_opened" not in [e["kind"] for e in timeline(api, incident["id"])]
