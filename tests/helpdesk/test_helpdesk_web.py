"""The incident page's helpdesk section: shown only when helpdesk tickets are involved; retry is for leads."""
from __future__ import annotations

from ..helpers import declare, logged_in
from ..web_helpers import csrf_from


def test_the_section_shows_only_with_helpdesk_tickets(app, api, client, make_user):
    incident = declare(api)
    logged_in(client, make_user, role="viewer")
    assert 'id="helpdesk"' not in client.get(f"/incidents/{incident['id']}").get_data(as_text=True)
    api.post("/api/v1/tickets", json={"external_id": "7", "source": "zendesk", "tags": ["login"]})
    api.post(f"/api/v1/incidents/{incident['id']}/tickets", json={"external_ids": ["7"], "source": "zendesk"})
    page = client.get(f"/incidents/{incident['id']}").get_data(as_text=True)
    assert 'id="helpdesk"' in page and "sandbox" in page and "Retry the refused tickets" not in page
    progress = client.get(f"/incidents/{incident['id']}/helpdesk.json")
    assert progress.headers["Cache-Control"] == "no-store"
    assert (progress.get_json()["linked"], progress.get_json()["pending"]) == (1, 1)


def test_only_a_lead_may_retry(app, api, client, make_user):
    incident = declare(api)
    logged_in(client, make_user, role="agent", email="agent@example.com")
    token = csrf_from(client, f"/incidents/{incident['id']}")
    response = client.post(f"/incidents/{incident['id']}/helpdesk/retry", data={"csrf_token": token})
    assert response.status_code == 403
    assert client.get("/incidents/999999/helpdesk.json").status_code == 404
