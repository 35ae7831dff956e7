"""New tickets that look like a known issue are flagged on ingest: in the ingest answer
(`known_issue_matches`), in the database, and in the tickets view ("looks like INC-42: known issue")."""
from __future__ import annotations

import io
import json

from sqlalchemy import select

from incident import clock
from incident.extensions import db
from incident.known_issues.models import KnownIssueMatch

from ..factories import ticket, tickets
from ..helpers import declare, ingest, logged_in
from ..web_helpers import csrf_from
from ..zendesk_stand_in import sign_webhook
from .support import put, resolve


def flags(app) -> dict[int, int]:
    with app.app_context():
        return dict(db.session.execute(select(KnownIssueMatch.ticket_id, KnownIssueMatch.incident_id)).tuples().all())


def test_new_tickets_with_all_the_tags_or_a_phrase_are_flagged_in_the_answer(app, api, api_as):
    incident = declare(api)
    put(api, incident["id"], tags=["login", "eu"], match_phrases=["error 502", "can't sign in"])
    agent = api_as("agent")
    answer = ingest(agent, {"tickets": [
        ticket(1, tags=["login", "eu", "vip"], subject="Broken", description="-"),        # all the tags
        ticket(2, tags=["login"], subject="Broken", description="-"),                     # one tag: no
        ticket(3, tags=[], subject="Login page: ERROR 502!", description="-"),            # a phrase
        ticket(4, tags=[], subject="Hello", description="I CANT sign in... can't SIGN-IN"),  # punctuation aside
        ticket(5, tags=[], subject="error", description="502"),                           # split across fields: no
        ticket(6, tags=["billing"], subject="Refund", description="-"),
    ]})
    assert answer["created"] == 6
    assert answer["known_issue_matches"] == [
        {"external_id": f"ZD-{n}", "source": "zendesk", "incident_id": incident["id"]} for n in (1, 3, 4)]
    assert len(flags(app)) == 3 and set(flags(app).values()) == {incident["id"]}
    assert api.get(f"/api/v1/incidents/{incident['id']}/known-issue").get_json()["matched_tickets"] == 3
    assert api.get("/api/v1/known-issues").get_json()["items"][0]["matched_tickets"] == 3


def test_only_new_tickets_are_flagged_not_resent_or_changed_ones(app, api):
    ingest(api, {"tickets": tickets(3, tags=["login"])})
    incident = declare(api)
    put(api, incident["id"], tags=["login"], match_phrases=[])
    again = ingest(api, {"tickets": tickets(3, tags=["login"]) + [ticket(9, tags=["login"], subject="changed")]})
    assert again["unchanged"] == 3 and again["created"] == 1
    assert [m["external_id"] for m in again["known_issue_matches"]] == ["ZD-9"]
    changed = ingest(api, {"tickets": [ticket(1, tags=["login"], subject="worse now")]})
    assert changed["updated"] == 1 and changed["known_issue_matches"] == []


def test_which_entries_flag_open_ones_and_resolved_ones_that_say_what_to_do(app, api, frozen):
    silent = declare(api, title="Resolved, nothing to tell")
    put(api, silent["id"], workaround="", fix="", symptoms="slow", tags=["slow"], match_phrases=[])
    resolve(api, silent["id"])
    helpful = declare(api, title="Resolved with a fix")
    put(api, helpful["id"], workaround="", fix="Update the app to 5.1", tags=["crash"], match_phrases=[])
    resolve(api, helpful["id"])
    off = declare(api, title="Switched off")
    put(api, off["id"], tags=["export"], match_phrases=[], flag_tickets=False)
    answer = ingest(api, {"tickets": [ticket(1, tags=["slow"]), ticket(2, tags=["crash"]), ticket(3, tags=["export"])]})
    assert answer["known_issue_matches"] == [{"external_id": "ZD-2", "source": "zendesk", "incident_id": helpful["id"]}]

    duplicate, parent = declare(api, title="Duplicate"), declare(api, title="Parent")
    put(api, duplicate["id"], tags=["merged"], match_phrases=[])
    api.post(f"/api/v1/incidents/{duplicate['id']}/merge", json={"into": parent["id"]})
    assert ingest(api, ticket(4, tags=["merged"]))["known_issue_matches"] == []

    # the entry removed: its flags go with it, and new tickets are not flagged
    api.delete(f"/api/v1/incidents/{helpful['id']}/known-issue")
    assert flags(app) == {} and ingest(api, ticket(5, tags=["crash"]))["known_issue_matches"] == []


def test_a_ticket_like_several_entries_gets_the_best_one(app, api, frozen):
    old = declare(api, title="Last month")
    put(api, old["id"], tags=["login"], match_phrases=[])
    resolve(api, old["id"])
    clock.advance(days=1)
    newer = declare(api, title="Yesterday")
    put(api, newer["id"], tags=["login"], match_phrases=[])
    resolve(api, newer["id"])
    assert ingest(api, ticket(1, tags=["login"]))["known_issue_matches"][0]["incident_id"] == newer["id"]
    minor = declare(api, title="Open SEV3", severity="SEV3")
    put(api, minor["id"], tags=["login"], match_phrases=[])
    assert ingest(api, ticket(2, tags=["login"]))["known_issue_matches"][0]["incident_id"] == minor["id"]
    major = declare(api, title="Open SEV1", severity="SEV1")
    put(api, major["id"], tags=[], match_phrases=["log in"])
    assert ingest(api, ticket(3, tags=["login"], subject="Cannot log in"))["known_issue_matches"][0][
        "incident_id"] == major["id"]
    assert len(flags(app)) == 3
    with app.app_context():   # flagged when it arrived, on the app's clock
        assert set(db.session.scalars(select(KnownIssueMatch.matched_at))) == {clock.utcnow()}


def test_no_entries_no_flags_and_a_big_batch_is_flagged_whole(app, api):
    assert ingest(api, {"tickets": tickets(5)})["known_issue_matches"] == []
    incident = declare(api)
    put(api, incident["id"], tags=["login"], match_phrases=[])
    answer = ingest(api, {"tickets": tickets(2500, start=100) + tickets(500, start=5000, tags=["billing"])})
    assert answer["created"] == 3000 and len(answer["known_issue_matches"]) == 2500
    assert len(flags(app)) == 2500


def test_tickets_linked_on_arrival_are_flagged_too_and_a_rejected_batch_flags_nothing(app, api):
    incident = declare(api)
    put(api, incident["id"], tags=["login"], match_phrases=[])
    api.post(f"/api/v1/incidents/{incident['id']}/link-rules", json={"tags": ["login"]})
    answer = ingest(api, ticket(1, tags=["login"]))
    assert answer["linked"] == 1 and len(answer["known_issue_matches"]) == 1
    bad = api.post("/api/v1/tickets", json={"tickets": [ticket(2, tags=["login"]), {"external_id": ""}]})
    assert bad.status_code == 422 and len(flags(app)) == 1


def test_the_tickets_view_says_which_known_issue_a_ticket_looks_like(app, client, make_user, api):
    logged_in(client, make_user, role="agent")
    known = declare(api, title="Old VAT bug")
    put(api, known["id"], tags=["vat"], match_phrases=[], fix="Reissue the invoice")
    resolve(api, known["id"])
    current = declare(api, title="Login failing")
    put(api, current["id"], tags=[], match_phrases=["error 502"])
    ingest(api, {"tickets": [ticket(1, tags=["vat"], subject="Wrong VAT"), ticket(2, subject="Error 502 again"),
                             ticket(3, tags=["billing"], subject="Something else")]})
    page = client.get("/tickets").get_data(as_text=True)

    def row(external_id):
        start = page.index(f'data-ticket="{external_id}"')
        return page[start:page.index("</tr>", start)]

    assert f"looks like INC-{known['id']}: known issue" in row("ZD-1")
    assert f'href="/incidents/{known["id"]}#known-issue"' in row("ZD-1")
    assert f"looks like INC-{current['id']}: current incident" in row("ZD-2")
    assert "looks like" not in row("ZD-3")
    resolve(api, current["id"])          # the same flag now reads as a known issue
    assert f"looks like INC-{current['id']}: known issue" in client.get("/tickets").get_data(as_text=True)


def test_tickets_from_a_csv_upload_are_flagged_too(app, client, make_user, api):
    """Every way in goes through ingest: a CSV upload from the tickets view is flagged like the API's."""
    logged_in(client, make_user, role="agent")
    incident = declare(api)
    put(api, incident["id"], tags=[], match_phrases=["error 502"])
    csv = "id,subject,description,tags\nCSV-1,Error 502 on login,-,login\nCSV-2,Fine,-,\n"
    response = client.post("/tickets/import", data={"file": (io.BytesIO(csv.encode()), "export.csv"),
                                                    "source": "csv", "csrf_token": csrf_from(client, "/tickets")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get("/tickets").get_data(as_text=True)
    assert page.count("looks like INC-") == 1 and f"looks like INC-{incident['id']}" in page
    assert len(flags(app)) == 1


def test_a_ticket_from_the_zendesk_webhook_is_flagged_and_its_answer_keeps_its_shape(app, client, api, monkeypatch,
                                                                                     frozen):
    monkeypatch.setitem(app.config, "ZENDESK_WEBHOOK_SECRET", "zd-secret")
    incident = declare(api)
    put(api, incident["id"], tags=["login", "eu"], match_phrases=[])
    body = json.dumps({"ticket": {"id": 4242, "subject": "Login broken", "description": "502", "tags": "login eu",
                                  "requester": {"name": "Mara", "email": "mara@example.com"},
                                  "created_at": "2026-11-22T08:59:00Z"}}).encode()
    stamp = clock.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    response = client.post("/webhooks/zendesk", data=body, headers={
        "Content-Type": "application/json", "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        "X-Zendesk-Webhook-Signature": sign_webhook("zd-secret", body, stamp)})
    assert response.status_code == 200 and response.get_json() == {"created": 1, "linked": 0}
    assert list(flags(app).values()) == [incident["id"]]
