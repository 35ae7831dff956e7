"""Helpers the review tests share."""
from __future__ import annotations

from datetime import timedelta

from incident import clock

from ..conftest import T0

LEAD, SECOND_LEAD, ENGINEER, COMMS = "lead@example.com", "bo@example.com", "eve@example.com", "comms@example.com"


def at(minutes: float):
    """Move the frozen clock to T0 + minutes."""
    clock.freeze(T0 + timedelta(minutes=minutes))


def update(api, incident_id, status=None, message="", public=True):
    body = {"message": message, "public": public, **({"status": status} if status else {})}
    response = api.post(f"/api/v1/incidents/{incident_id}/updates", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def put_role(api, incident_id, role, user):
    response = api.put(f"/api/v1/incidents/{incident_id}/roles/{role}", json={"user": user})
    assert response.status_code == 200, response.get_json()
