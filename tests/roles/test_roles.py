"""Crisis roles: assign, hand over (every term kept), relieve, several experts, gaps."""
from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from incident import clock
from incident.extensions import db
from incident.roles.models import RoleAssignment
from incident.roles.policy import missing_roles

from ..conftest import count_rows
from ..helpers import declare


def roles_of(api, incident_id):
    return api.get(f"/api/v1/incidents/{incident_id}/roles").get_json()


def test_assign_hand_over_and_keep_every_term(api, make_user, frozen):
    make_user("bo@example.com", role="engineer")
    make_user("cy@example.com", role="engineer")
    incident_id = declare(api)["id"]
    clock.advance(minutes=5)
    assert (
        api.put(f"/api/v1/incidents/{incident_id}/roles/technical_lead", json={"user": "bo@example.com"}).status_code == 200
    )
    clock.advance(minutes=60)
    body = api.put(f"/api/v1/incidents/{incident_id}/roles/technical_lead", json={"user": "cy@example.com"}).get_json()
    assert body["current"]["technical_lead"] == "cy@example.com"
    terms = [t for t in body["history"] if t["role"] == "technical_lead"]
    assert terms == [
        {
            "role": "technical_lead",
            "user": "bo@example.com",
            "from": "2026-11-22T09:05:00+00:00",
            "to": "2026-11-22T10:05:00+00:00",
            "assigned_by": "lead@example.com",
            "relieved_by": "lead@example.com",
        },
        {
            "role": "technical_lead",
            "user": "cy@example.com",
            "from": "2026-11-22T10:05:00+00:00",
            "to": None,
            "assigned_by": "lead@example.com",
            "relieved_by": None,
        },
    ]
    events = api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"]
    handover = [e for e in events if e["kind"] in ("role_assigned", "role_relieved")][-2:]
    assert [e["kind"] for e in handover] == ["role_relieved", "role_assigned"]
    assert handover[1]["data"]["previous"] == "bo@example.com"


def test_commander_is_handed_over_not_relieved(api, make_user):
    make_user("bo@example.com", role="lead")
    incident_id = declare(api)["id"]
    refused = api.delete(f"/api/v1/incidents/{incident_id}/roles/commander")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "commander_required"
    body = api.put(f"/api/v1/incidents/{incident_id}/roles/commander", json={"user": "bo@example.com"}).get_json()
    assert body["current"]["commander"] == "bo@example.com"
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["roles"]["commander"] == "bo@example.com"


def test_several_subject_matter_experts(api, make_user):
    for name in ("a", "b", "c"):
        make_user(f"{name}@example.com", role="engineer")
    incident_id = declare(api)["id"]
    for name in ("a", "b", "c"):
        api.put(f"/api/v1/incidents/{incident_id}/roles/subject_matter_expert", json={"user": f"{name}@example.com"})
    again = api.put(f"/api/v1/incidents/{incident_id}/roles/subject_matter_expert", json={"user": "a@example.com"})
    assert again.get_json()["changed"] is False
    assert roles_of(api, incident_id)["current"]["subject_matter_expert"] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    relieved = api.delete(f"/api/v1/incidents/{incident_id}/roles/subject_matter_expert?user=b@example.com")
    assert relieved.status_code == 200 and relieved.get_json()["relieved"] == 1
    assert roles_of(api, incident_id)["current"]["subject_matter_expert"] == ["a@example.com", "c@example.com"]


def test_relieve_leaves_the_role_empty_and_says_so(api, make_user):
    make_user("bo@example.com", role="engineer")
    incident_id = declare(api)["id"]
    api.put(f"/api/v1/incidents/{incident_id}/roles/scribe", json={"user": "bo@example.com"})
    assert "scribe" not in roles_of(api, incident_id)["missing"]
    assert api.delete(f"/api/v1/incidents/{incident_id}/roles/scribe").status_code == 200
    body = roles_of(api, incident_id)
    assert "scribe" not in body["current"] and "scribe" in body["missing"]
    assert api.delete(f"/api/v1/incidents/{incident_id}/roles/scribe").status_code == 404


@pytest.mark.parametrize(
    "path, payload, status",
    [
        ("roles/chief_wizard", {"user": "bo@example.com"}, 422),
        ("roles/scribe", {"user": "ghost@example.com"}, 422),
        ("roles/scribe", {"user": "not an email"}, 422),
        ("roles/scribe", {}, 422),
    ],
)
def test_bad_role_requests_change_nothing(app, api, make_user, path, payload, status):
    make_user("bo@example.com", role="engineer")
    incident_id = declare(api)["id"]
    before = count_rows(app, "role_assignments", "timeline_events")
    response = api.put(f"/api/v1/incidents/{incident_id}/{path}", json=payload)
    assert response.status_code == status
    assert count_rows(app, "role_assignments", "timeline_events") == before


def test_only_leads_assign_roles(api, api_as, make_user):
    make_user("bo@example.com", role="engineer")
    incident_id = declare(api)["id"]
    engineer = api_as("engineer")
    assert engineer.put(f"/api/v1/incidents/{incident_id}/roles/scribe", json={"user": "bo@example.com"}).status_code == 403
    assert engineer.get(f"/api/v1/incidents/{incident_id}/roles").status_code == 200


def test_database_refuses_two_current_commanders(app, api, make_user):
    """The partial unique index holds even if two requests race past the service's check."""
    other_id, _ = make_user("bo@example.com", role="lead")
    incident_id = declare(api)["id"]
    with app.app_context():
        db.session.add(
            RoleAssignment(incident_id=incident_id, role="commander", user_id=other_id, assigned_at=clock.utcnow())
        )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


@pytest.mark.parametrize(
    "severity, held, missing",
    [
        ("SEV1", {"commander"}, ["communications", "scribe", "technical_lead", "customer_liaison"]),
        ("SEV2", {"commander", "scribe"}, ["communications", "technical_lead"]),
        ("SEV3", {"commander", "technical_lead"}, []),
        ("SEV4", set(), ["commander"]),
    ],
)
def test_required_roles_by_severity(severity, held, missing):
    assert missing_roles(severity, held) == missing
