"""Known issues in the staff UI: the incident's section and its form (leads), the searchable list,
the nav link; escaping and permissions."""
from __future__ import annotations

from ..helpers import declare, logged_in
from ..web_helpers import post_form
from .support import RECORD, put, resolve

XSS = "<script>alert(1)</script>"
FORM = {"workaround": "Use the mobile app.", "symptoms": "502 after SSO", "cause": "bad deploy", "fix": "roll back",
        "tags": "login, eu", "services": "login", "match_phrases": "error 502\ncan't sign in\n", "flag_tickets": "on"}


def test_a_lead_records_edits_and_removes_the_known_issue_from_the_incident_page(client, make_user, api):
    logged_in(client, make_user)
    incident = declare(api)
    path = f"/incidents/{incident['id']}"
    room = client.get(path).get_data(as_text=True)
    assert 'id="known-issue"' in room and "No known-issue record yet" in room and 'id="known-issue-form"' in room

    response = post_form(client, f"{path}/known-issue", FORM, page=path)
    assert response.status_code == 302 and response.headers["Location"].endswith("#known-issue")
    body = api.get(f"/api/v1/incidents/{incident['id']}/known-issue").get_json()
    assert body["tags"] == ["eu", "login"] and body["match_phrases"] == ["error 502", "can't sign in"]
    assert body["workaround"] == "Use the mobile app." and body["services"] == ["login"]
    room = client.get(path).get_data(as_text=True)
    assert "Known issue saved. Its workaround is on the status page" in room
    assert 'id="known-issue-workaround">Use the mobile app.<' in room and "bad deploy" in room
    assert "public workaround: “Use the mobile app.”" in room                             # on the timeline

    post_form(client, f"{path}/known-issue", {**FORM, "flag_tickets": ""}, page=path)
    assert api.get(f"/api/v1/incidents/{incident['id']}/known-issue").get_json()["flag_tickets"] is False
    assert "not now: switched off" in client.get(path).get_data(as_text=True)

    bad = post_form(client, f"{path}/known-issue", {**FORM, "tags": "not a tag!"}, page=path)
    assert bad.status_code == 302 and "Please correct the form" in client.get(path).get_data(as_text=True)
    assert api.get(f"/api/v1/incidents/{incident['id']}/known-issue").get_json()["tags"] == ["eu", "login"]

    post_form(client, f"{path}/known-issue/remove", {}, page=path)
    assert api.get(f"/api/v1/incidents/{incident['id']}/known-issue").status_code == 404
    assert "No known-issue record yet" in client.get(path).get_data(as_text=True)


def test_viewers_read_it_but_only_leads_change_it(app, client, make_user, api):
    incident = declare(api)
    put(api, incident["id"])
    logged_in(client, make_user, role="agent", email="agent@example.com")
    path = f"/incidents/{incident['id']}"
    room = client.get(path).get_data(as_text=True)
    assert RECORD["workaround"] in room and "SYMPTOM-SECRET" in room      # staff read everything
    assert 'id="known-issue-form"' not in room and "Remove the known issue" not in room
    assert post_form(client, f"{path}/known-issue", FORM, page=path).status_code == 403
    assert post_form(client, f"{path}/known-issue/remove", {}, page=path).status_code == 403
    assert api.get(f"/api/v1/incidents/{incident['id']}/known-issue").get_json()["workaround"] == RECORD["workaround"]
    assert client.post(f"{path}/known-issue", data=FORM).status_code == 400                 # no CSRF token


def test_the_known_issues_page_searches_and_escapes(app, client, make_user, api):
    logged_in(client, make_user, role="viewer")
    known = declare(api, title=f"VAT wrong {XSS}")
    put(api, known["id"], workaround="", symptoms=f"VAT of 22% {XSS}", fix="Reissue", tags=["vat"], match_phrases=[])
    resolve(api, known["id"])
    current = declare(api, title="Login failing")
    put(api, current["id"])
    home = client.get("/").get_data(as_text=True)
    assert 'href="/known-issues">Known issues</a>' in home

    page = client.get("/known-issues").get_data(as_text=True)
    assert page.index(f"INC-{current['id']}") < page.index(f"INC-{known['id']}")      # current first
    assert "current incident" in page and "known issue" in page
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    found = client.get("/known-issues?q=reissue+vat").get_data(as_text=True)
    assert f"INC-{known['id']}" in found and f"INC-{current['id']}" not in found
    assert "No known issue matches" in client.get("/known-issues?q=nothing-like-it").get_data(as_text=True)
    only_current = client.get("/known-issues?state=current").get_data(as_text=True)
    assert f"INC-{current['id']}" in only_current and f"INC-{known['id']}" not in only_current
    refused = client.get("/known-issues?state=bogus")
    assert refused.status_code == 200 and "state must be one of" in refused.get_data(as_text=True)
    assert client.get("/known-issues?q=" + "x" * 300).status_code == 200
    stranger = app.test_client().get("/known-issues")                                  # staff only
    assert stranger.status_code == 302 and "/login" in stranger.headers["Location"]
