"""Helpers the known-issue tests share."""
from __future__ import annotations

RECORD = {"workaround": "Sign in from the mobile app until this is fixed.",
          "symptoms": "SYMPTOM-SECRET: 502 on /login after the SSO redirect",
          "cause": "CAUSE-SECRET: a bad deploy of the session service",
          "fix": "FIX-SECRET: roll back session-svc to 4.2",
          "tags": ["login", "eu"], "match_phrases": ["error 502"]}
INTERNAL = ("SYMPTOM-SECRET", "CAUSE-SECRET", "FIX-SECRET")


def put(api, incident_id, **overrides):
    response = api.put(f"/api/v1/incidents/{incident_id}/known-issue", json={**RECORD, **overrides})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def resolve(api, incident_id, message="Fixed."):
    response = api.post(f"/api/v1/incidents/{incident_id}/updates", json={"status": "resolved", "message": message})
    assert response.status_code == 201, response.get_json()
