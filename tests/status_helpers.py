"""Helpers for the status page tests: components, incidents and updates through the staff API."""
from __future__ import annotations

from datetime import datetime


def component(api, name, **fields):
    response = api.post("/api/v1/status/components", json={"name": name, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def incident(api, title="Login failing", severity="SEV2", services=("login",)):
    response = api.post("/api/v1/incidents", json={"title": title, "severity": severity, "services": list(services)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def update(api, incident_id, message="", status=None, public=True):
    body = {"message": message, "public": public}
    if status:
        body["status"] = status
    response = api.post(f"/api/v1/incidents/{incident_id}/updates", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["update"]


def is_iso(value) -> bool:
    return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None


def component_ids(api) -> dict[str, int]:
    return {c["name"]: c["id"] for c in api.get("/api/v1/status/components").get_json()["items"]}
