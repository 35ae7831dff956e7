"""PUT/GET/DELETE /api/v1/incidents/<id>/known-issue and GET /api/v1/known-issues: the record, who may
do what, the timeline, the search, and 422 for what makes no sense."""
from __future__ import annotations

import pytest

from incident import clock

from ..helpers import declare, timeline
from .support import RECORD, put, resolve


def test_a_lead_records_reads_replaces_and_removes_a_known_issue(api, frozen):
    incident = declare(api, services=["login", "api"])
    path = f"/api/v1/incidents/{incident['id']}/known-issue"
    assert api.get(path).status_code == 404
    assert api.get(path).get_json()["error"]["code"] == "known_issue_not_found"

    body = put(api, incident["id"])
    assert body["incident_id"] == incident["id"] and body["reference"] == incident["reference"]
    assert body["state"] == "current" and body["incident_status"] == "investigating"
    assert body["workaround"] == RECORD["workaround"] and body["fix"] == RECORD["fix"]
    assert body["tags"] == ["eu", "login"] and body["match_phrases"] == ["error 502"]
    assert body["services"] == ["api", "login"]          # left out: the incident's
    assert body["flag_tickets"] is True and body["flags_tickets_now"] is True
    assert body["updated_by"] == "lead@example.com" and body["matched_tickets"] == 0
    assert api.get(path).get_json() == body

    clock.advance(minutes=5)
    replaced = put(api, incident["id"], workaround="", services=[], tags=["LOGIN"], match_phrases=[])
    assert replaced["workaround"] == "" and replaced["services"] == [] and replaced["tags"] == ["login"]
    assert replaced["created_at"] == body["created_at"] and replaced["updated_at"] != body["updated_at"]
    again = put(api, incident["id"], workaround="", services=[], tags=["login"], match_phrases=[])
    assert again["updated_at"] == replaced["updated_at"]          # nothing changed: nothing written

    events = [e for e in timeline(api, incident["id"]) if e["kind"].startswith("known_issue")]
    assert [e["kind"] for e in events] == ["known_issue_recorded", "known_issue_updated"]
    assert events[0]["data"]["workaround"] == RECORD["workaround"]
    assert set(events[1]["data"]["changed"]) == {"workaround", "tags", "services", "match_phrases"}

    assert api.delete(path).get_json() == {"deleted": True}
    assert api.get(path).status_code == 404 and api.delete(path).status_code == 404
    assert timeline(api, incident["id"])[-1]["kind"] == "known_issue_removed"


def test_a_resolved_incident_can_still_get_its_entry_and_reads_known(api):
    incident = declare(api)
    resolve(api, incident["id"])
    body = put(api, incident["id"], workaround="", fix="")
    assert body["state"] == "known" and body["resolved_at"] is not None
    assert body["flags_tickets_now"] is False          # resolved and says nothing to do
    assert put(api, incident["id"], fix="Update the app")["flags_tickets_now"] is True


def test_permissions(api, api_as):
    incident = declare(api)
    path = f"/api/v1/incidents/{incident['id']}/known-issue"
    put(api, incident["id"])
    viewer, agent, engineer = api_as("viewer"), api_as("agent"), api_as("engineer")
    assert viewer.get(path).status_code == 200 and viewer.get("/api/v1/known-issues").status_code == 200
    for who in (viewer, agent, engineer):
        assert who.put(path, json=RECORD).status_code == 403
        assert who.delete(path).status_code == 403
    anonymous = api_as("viewer")
    anonymous.token = None
    assert anonymous.get(path).status_code == 401 and anonymous.get("/api/v1/known-issues").status_code == 401
    anonymous.token = "tcs_not-a-token"
    assert anonymous.put(path, json=RECORD).status_code == 401
    assert api.get(path).get_json()["workaround"] == RECORD["workaround"]    # nothing changed


@pytest.mark.parametrize(("body", "field"), [
    ({}, "body"),                                                   # says nothing
    ({"workaround": "   ", "tags": ["login"]}, "body"),             # blanks say nothing either
    ({"fix": "x", "tags": ["not a tag!"]}, "tags.0"),
    ({"fix": "x", "services": ["Bad Service!"]}, "services.0"),
    ({"fix": "x", "match_phrases": ["!!"]}, "match_phrases.0"),
    ({"fix": "x", "match_phrases": ["x" * 101]}, "match_phrases.0"),
    ({"fix": "x", "match_phrases": [f"phrase {n}" for n in range(21)]}, "match_phrases"),
    ({"workaround": "x" * 1001}, "workaround"),
    ({"fix": "x" * 10_001}, "fix"),
    ({"fix": "x", "tags": ["t"] * 21}, "tags"),
    ({"fix": "x", "flag_tickets": "maybe"}, "flag_tickets"),
    ({"fix": "x", "symptoms": None}, "symptoms"),
    ({"fix": "x", "public": True}, "public"),                       # unknown fields are refused
])
def test_bad_records_are_refused_with_the_reason_and_change_nothing(api, body, field):
    incident = declare(api)
    put(api, incident["id"], fix="kept")
    response = api.put(f"/api/v1/incidents/{incident['id']}/known-issue", json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["details"]
    assert api.get(f"/api/v1/incidents/{incident['id']}/known-issue").get_json()["fix"] == "kept"


def test_unknown_and_merged_incidents(api):
    assert api.put("/api/v1/incidents/999/known-issue", json=RECORD).status_code == 404
    assert api.get("/api/v1/incidents/999/known-issue").status_code == 404
    assert api.put("/api/v1/incidents/99999999999/known-issue", json=RECORD).status_code == 404
    duplicate, parent = declare(api), declare(api)
    assert api.post(f"/api/v1/incidents/{duplicate['id']}/merge", json={"into": parent["id"]}).status_code == 200
    response = api.put(f"/api/v1/incidents/{duplicate['id']}/known-issue", json=RECORD)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "incident_merged"
    assert api.put(f"/api/v1/incidents/{duplicate['id']}/known-issue", data="x",
                   headers={"Content-Type": "text/plain"}).status_code == 415


def _search(api, query=""):
    response = api.get(f"/api/v1/known-issues{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_search_finds_every_word_in_any_field_current_ones_first(api, frozen):
    older = declare(api, title="Invoices show the wrong VAT", services=["billing"])
    put(api, older["id"], workaround="", symptoms="VAT of 22% shown for German customers", cause="Tax table",
        fix="Reissue the invoice", tags=["billing", "vat"], match_phrases=["wrong vat"])
    resolve(api, older["id"])
    clock.advance(hours=1)
    newer = declare(api, title="Password reset mail never arrives", services=["mail"])
    put(api, newer["id"], workaround="Ask support for a reset link", symptoms="", cause="", fix="Restart the relay",
        tags=["password"], match_phrases=[])
    resolve(api, newer["id"])
    clock.advance(hours=1)
    current = declare(api, title="Login failing", services=["login"])
    put(api, current["id"])

    everything = _search(api)
    assert [e["incident_id"] for e in everything["items"]] == [current["id"], newer["id"], older["id"]]
    assert everything["total"] == 3 and everything["page"] == 1 and everything["per_page"] == 50
    assert [e["state"] for e in everything["items"]] == ["current", "known", "known"]

    def ids(query):
        return [e["incident_id"] for e in _search(api, query)["items"]]

    assert ids("?q=vat") == [older["id"]]                        # tag, symptom, phrase
    assert ids("?q=GERMAN+reissue") == [older["id"]]             # every word, any field, any case
    assert ids("?q=german+relay") == []
    assert ids("?q=password+mail") == [newer["id"]]              # the incident's title counts
    assert ids(f"?q=INC-{newer['id']}") == [newer["id"]]
    assert ids("?q=100%25") == [] and ids("?q=_") == []          # LIKE wildcards are taken literally
    assert ids("?state=current") == [current["id"]]
    assert ids("?state=known") == [newer["id"], older["id"]]
    assert ids("?tag=vat") == [older["id"]] and ids("?tag=VAT") == [older["id"]]
    assert ids("?service=mail") == [newer["id"]] and ids("?service=login") == [current["id"]]
    paged = _search(api, "?per_page=1&page=2")
    assert [e["incident_id"] for e in paged["items"]] == [newer["id"]] and paged["total"] == 3


@pytest.mark.parametrize("query", ["?state=open", "?page=0", "?per_page=501", "?page=x", "?q=" + "x" * 201,
                                   "?tag=not%20a%20tag!", "?service=Bad!"])
def test_searches_that_make_no_sense_are_422(api, query):
    response = api.get(f"/api/v1/known-issues{query}")
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["message"]
