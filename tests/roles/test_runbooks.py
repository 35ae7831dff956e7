"""Runbooks: the shipped ones are valid and useful; checklists per role; ticking is recorded."""
from __future__ import annotations

from pathlib import Path

import pytest

from incident.roles.policy import ROLES
from incident.roles.runbooks import RunbookError, load_runbooks, parse_runbook

from ..helpers import declare

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"


def test_shipped_runbooks_are_valid_and_cover_every_role():
    books = load_runbooks(RUNBOOKS)
    covered = {role for book in books for role in book.roles}
    assert covered == set(ROLES)
    assert any(book.slug == "outage" for book in books)
    for book in books:
        assert len(book.items) >= 10, book.slug
        assert all(20 <= len(item.text) <= 160 for item in book.items), book.slug


def test_runbook_applies_by_role_severity_and_service():
    login = parse_runbook(RUNBOOKS / "login-outage.md")
    assert login.applies_to(role="technical_lead", severity="SEV1", services={"login", "api"})
    assert not login.applies_to(role="technical_lead", severity="SEV3", services={"login"})
    assert not login.applies_to(role="technical_lead", severity="SEV1", services={"billing"})
    assert not login.applies_to(role="scribe", severity="SEV1", services={"login"})


@pytest.mark.parametrize("text, problem", [
    ("---\nsummary: s\nroles: [scribe]\n---\n- [ ] an item long enough\n", "'title' is required"),
    ("---\ntitle: t\nsummary: s\nroles: [wizard]\n---\n- [ ] an item long enough\n", "unknown roles wizard"),
    ("---\ntitle: t\nsummary: s\nroles: [scribe]\nseverities: [SEV7]\n---\n- [ ] an item\n", "unknown severities"),
    ("---\ntitle: t\nsummary: s\nroles: [scribe]\n---\nNo items here.\n", "no checklist items"),
    ("---\ntitle: t\nsummary: s\nroles: [scribe]\n---\n- [ ] same\n- [ ] Same\n", "item repeated"),
    ("---\ntitle: [unclosed\n---\n- [ ] x\n", "does not parse"),
])
def test_bad_runbooks_are_refused_with_the_reason(tmp_path, text, problem):
    path = tmp_path / "bad.md"
    path.write_text(text)
    with pytest.raises(RunbookError, match=problem):
        parse_runbook(path)


def checklist(api, incident_id, role):
    items = api.get(f"/api/v1/incidents/{incident_id}/checklists?role={role}").get_json()["items"]
    return items[0]["runbooks"]


def test_checklists_follow_the_incident(api):
    login = declare(api, severity="SEV1", services=["login"])["id"]
    billing = declare(api, severity="SEV1", services=["billing"])["id"]
    assert "login-outage" in [b["slug"] for b in checklist(api, login, "technical_lead")]
    assert "login-outage" not in [b["slug"] for b in checklist(api, billing, "technical_lead")]
    assert {"commander", "outage"} <= {b["slug"] for b in checklist(api, login, "commander")}


def test_ticking_is_recorded_and_reversible(api):
    incident_id = declare(api)["id"]
    book = next(b for b in checklist(api, incident_id, "commander") if b["slug"] == "commander")
    item = book["sections"][0]["items"][0]
    payload = {"runbook": "commander", "item": item["key"]}
    assert api.post(f"/api/v1/incidents/{incident_id}/checklists", json=payload).get_json()["changed"] is True
    assert api.post(f"/api/v1/incidents/{incident_id}/checklists", json=payload).get_json()["changed"] is False
    ticked = next(b for b in checklist(api, incident_id, "commander") if b["slug"] == "commander")
    assert ticked["done"] == 1 and ticked["sections"][0]["items"][0]["checked"] is True
    assert ticked["sections"][0]["items"][0]["by"] == "lead@example.com"
    api.post(f"/api/v1/incidents/{incident_id}/checklists", json={**payload, "checked": False})
    events = api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"]
    assert [e["kind"] for e in events][-2:] == ["checklist_item_checked", "checklist_item_unchecked"]
    assert events[-1]["data"]["item"] == item["text"]


def test_only_role_holders_or_leads_tick(api, api_as):
    incident_id = declare(api)["id"]
    item = checklist(api, incident_id, "scribe")[0]["sections"][0]["items"][0]
    agent = api_as("agent")
    payload = {"runbook": "scribe", "item": item["key"]}
    assert agent.post(f"/api/v1/incidents/{incident_id}/checklists", json=payload).status_code == 403
    api.put(f"/api/v1/incidents/{incident_id}/roles/scribe", json={"user": agent.email})
    assert agent.post(f"/api/v1/incidents/{incident_id}/checklists", json=payload).status_code == 200
    unknown = api.post(f"/api/v1/incidents/{incident_id}/checklists", json={"runbook": "scribe", "item": "nope"})
    assert unknown.status_code == 404
