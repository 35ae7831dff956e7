"""Overdue action items in reports: the report's incidents' items still open after their due day."""
from __future__ import annotations

from datetime import timedelta

from incident import clock

from ..helpers import declare


def test_the_summary_counts_the_overdue_action_items_of_its_incidents(api, make_user, frozen):
    make_user("owner@example.com", role="engineer")
    incident, other = declare(api), declare(api, severity="SEV3", title="Slow search", services=["search"])
    for target in (incident, other):   # action items come from reviews: resolve, and open the SEV3's by hand
        response = api.post(f"/api/v1/incidents/{target['id']}/updates", json={"status": "resolved", "message": "Fixed."})
        assert response.status_code == 201, response.get_json()
    assert api.post(f"/api/v1/incidents/{other['id']}/review").status_code == 201
    due = (clock.utcnow() + timedelta(days=1)).date().isoformat()
    for target, title in ((incident, "Add a canary"), (incident, "Alert on 5xx"), (other, "Tune the index")):
        response = api.post(f"/api/v1/incidents/{target['id']}/action-items",
                            json={"title": title, "owner": "owner@example.com", "due_on": due})
        assert response.status_code == 201, response.get_json()
    assert api.get("/api/v1/reports/summary").get_json()["overdue_action_items"] == 0
    clock.advance(days=2)
    assert api.get("/api/v1/reports/summary").get_json()["overdue_action_items"] == 3
    assert api.get("/api/v1/reports/summary?severity=SEV1").get_json()["overdue_action_items"] == 2
    item = api.get("/api/v1/action-items?overdue=true").get_json()["items"][0]
    assert api.patch(f"/api/v1/action-items/{item['id']}", json={"state": "done"}).status_code == 200
    assert api.get("/api/v1/reports/summary").get_json()["overdue_action_items"] == 2
