"""The staff pages: dashboard, declaring, the incident room; escaping and permissions."""
from __future__ import annotations

from ..helpers import declare, logged_in
from ..web_helpers import post_form

XSS = "<script>alert(1)</script>"




def test_dashboard_shows_open_incidents_roles_and_gaps(client, make_user, api):
    logged_in(client, make_user)
    make_user("bo@example.com", role="engineer")
    sev1 = declare(api, title="Checkout down")["id"]
    api.put(f"/api/v1/incidents/{sev1}/roles/technical_lead", json={"user": "bo@example.com"})
    resolved = declare(api, title="Old thing")["id"]
    api.post(f"/api/v1/incidents/{resolved}/updates", json={"status": "resolved", "message": "done"})
    page = client.get("/").get_data(as_text=True)
    assert "Checkout down" in page and "Old thing" not in page
    row = page[page.index(f'data-incident="{sev1}"'):]
    row = row[:row.index("</tr>")]
    assert "SEV1" in row and "investigating" in row and "bo@example.com" in row and "lead@example.com" in row
    assert "Scribe" in row and "Communications lead" in row  # still empty for a SEV1


def test_customer_text_is_escaped_everywhere(client, make_user, api):
    logged_in(client, make_user)
    incident_id = declare(api, title=f"Login {XSS}", summary=XSS)["id"]
    api.post(f"/api/v1/incidents/{incident_id}/updates", json={"message": XSS})
    api.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": XSS})
    for path in ("/", f"/incidents/{incident_id}", "/incidents"):
        page = client.get(path).get_data(as_text=True)
        assert XSS not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
    assert "script-src 'self'" in client.get("/").headers["Content-Security-Policy"]


def test_declare_and_run_an_incident_from_the_web(app, client, make_user, api):
    logged_in(client, make_user)
    make_user("bo@example.com", role="engineer")
    response = post_form(client, "/incidents/new", {"title": "Search is slow", "severity": "SEV3",
                                                    "summary": "p99 10s", "services": "search, api",
                                                    "mode": "swarm"}, page="/incidents/new")
    assert response.status_code == 302
    incident_id = int(response.headers["Location"].rsplit("/", 1)[1])
    body = api.get(f"/api/v1/incidents/{incident_id}").get_json()
    assert (body["mode"], body["services"], body["roles"]["commander"]) == ("swarm", ["api", "search"], "ana@example.com")

    room = f"/incidents/{incident_id}"
    post_form(client, f"{room}/roles", {"role": "technical_lead", "user": "bo@example.com"}, room)
    post_form(client, f"{room}/updates", {"status": "identified", "message": "Index missing", "public": "on"}, room)
    post_form(client, f"{room}/notes", {"text": "Adding the index now"}, room)
    kinds = [e["kind"] for e in api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"]]
    assert kinds == ["declared", "role_assigned", "role_assigned", "status_changed", "note"]
    page = client.get(room).get_data(as_text=True)
    assert "Index missing" in page and "Adding the index now" in page


def test_bad_form_input_is_explained_and_changes_nothing(client, make_user, api):
    logged_in(client, make_user)
    response = post_form(client, "/incidents/new", {"title": "", "severity": "SEV1"}, page="/incidents/new")
    assert response.status_code == 422
    assert "Please correct the form" in response.get_data(as_text=True)
    assert api.get("/api/v1/incidents").get_json()["total"] == 0


def test_viewers_see_but_cannot_act(client, make_user, api):
    incident_id = declare(api)["id"]
    logged_in(client, make_user, role="viewer", email="eve@example.com")
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Post a status update" not in page and "Declare incident" not in page
    response = post_form(client, "/incidents/new", {"title": "x", "severity": "SEV1"}, page="/")
    assert response.status_code == 403
    response = post_form(client, f"/incidents/{incident_id}/updates", {"status": "resolved"}, page="/")
    assert response.status_code == 403
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["status"] == "investigating"


def test_unknown_incident_page_is_404(client, make_user):
    logged_in(client, make_user)
    assert client.get("/incidents/4242").status_code == 404
