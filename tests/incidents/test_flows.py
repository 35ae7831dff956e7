"""Composite use cases land whole or not at all: a failure in the middle of each leaves nothing behind."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from incident import flows
from incident.auth.models import User
from incident.escalation import triggers
from incident.extensions import db
from incident.incidents import service as incidents
from incident.incidents import slack_rooms
from incident.roles import service as roles
from incident.status import hooks as status_hooks
from incident.tickets import service as tickets
from incident.uow import unit_of_work

from ..conftest import count_rows
from ..factories import ticket
from ..factories import tickets as many_tickets
from ..helpers import declare, ingest, seed_flood


class Boom(RuntimeError):
    pass


def boom(*_args, **_kwargs):
    raise Boom("failed in the middle")


def _lead(app, api):
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == api.email))


@pytest.mark.parametrize("where", ["link", "rule"])
def test_declaring_from_a_flood_that_fails_midway_leaves_nothing(app, api, frozen, monkeypatch, where):
    seed_flood(app, api)
    monkeypatch.setattr(flows, "link_by_filter" if where == "link" else "add_link_rule", boom)
    with app.app_context():
        with pytest.raises(Boom):
            flows.declare_from_flood(_lead(app, api), kind="tag", key="login", severity="SEV2")
        db.session.remove()
    counts = count_rows(app, "incidents", "role_assignments", "timeline_events", "link_rules", "flood_signals")
    assert counts == {"incidents": 0, "role_assignments": 0, "timeline_events": 0, "link_rules": 0, "flood_signals": 1}
    assert api.get("/api/v1/tickets?unlinked=true&per_page=1").get_json()["total"] == 140

    monkeypatch.undo()  # and the same action, unbroken, does all of it
    with app.app_context():
        incident, linked = flows.declare_from_flood(_lead(app, api), kind="tag", key="login", severity="SEV2")
        assert linked == 100
    assert count_rows(app, "incidents", "link_rules", "flood_signals") == {
        "incidents": 1,
        "link_rules": 1,
        "flood_signals": 0,
    }


@pytest.mark.parametrize("where", ["role", "room"])
def test_declaring_that_fails_midway_leaves_no_incident(app, api, monkeypatch, where):
    if where == "role":
        monkeypatch.setattr(flows, "add_role_term", boom)
    else:
        monkeypatch.setattr(slack_rooms, "open_room", boom)
    with app.app_context():
        with pytest.raises(Boom):
            flows.declare_incident(_lead(app, api), title="Login down", severity="SEV1", services=["login"])
        db.session.remove()
    assert count_rows(app, "incidents", "services", "timeline_events", "role_assignments", "deliveries") == {
        "incidents": 0,
        "services": 0,
        "timeline_events": 0,
        "role_assignments": 0,
        "deliveries": 0,
    }


def test_resolving_whose_ticket_solving_fails_changes_nothing(app, api, monkeypatch):
    incident_id = declare(api)["id"]
    ingest(api, {"tickets": many_tickets(3)})
    assert (
        api.post(f"/api/v1/incidents/{incident_id}/tickets", json={"external_ids": ["ZD-1", "ZD-2", "ZD-3"]}).status_code
        == 200
    )
    monkeypatch.setattr(tickets, "solve_linked", boom)  # the receiver of `incident_resolved` calls it
    with app.app_context():
        with pytest.raises(Boom):
            incidents.post_update(_lead(app, api), incident_id, status="resolved", message="fixed")
        db.session.remove()
    body = api.get(f"/api/v1/incidents/{incident_id}").get_json()
    assert body["status"] == "investigating"
    assert api.get(f"/api/v1/incidents/{incident_id}/updates").get_json()["items"] == []
    assert [t["status"] for t in api.get("/api/v1/tickets?per_page=10").get_json()["items"]] == ["open"] * 3


def test_a_merge_whose_status_page_step_fails_moves_nothing(app, api, monkeypatch):
    parent, duplicate = declare(api)["id"], declare(api, title="dup")["id"]
    ingest(api, {"tickets": many_tickets(2)})
    assert api.post(f"/api/v1/incidents/{duplicate}/tickets", json={"external_ids": ["ZD-1", "ZD-2"]}).status_code == 200
    monkeypatch.setattr(status_hooks, "incident_changed", boom)  # what the merge's signal calls
    with app.app_context():
        with pytest.raises(Boom):
            tickets.merge_incident(_lead(app, api), duplicate, into=parent)
        db.session.remove()
    body = api.get(f"/api/v1/incidents/{duplicate}").get_json()
    assert (body["status"], body["merged_into"], body["linked_tickets"]) == ("investigating", None, 2)


def test_a_link_whose_trigger_word_escalation_fails_links_nothing(app, api, monkeypatch):
    incident_id = declare(api)["id"]
    ingest(api, {"tickets": [ticket(1, description="customer reports data loss")]})
    monkeypatch.setattr(triggers, "escalate_for_trigger", boom)
    with app.app_context():
        with pytest.raises(Boom):
            tickets.link_by_ids(_lead(app, api), incident_id, ["ZD-1"])
        db.session.remove()
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["linked_tickets"] == 0
    assert count_rows(app, "ticket_link_actions")["ticket_link_actions"] == 0


def test_a_role_assignment_inside_a_flow_does_not_commit_early(app, api, monkeypatch):
    """A nested use case joins the outer unit: its own commit would have left the role behind."""
    incident_id = declare(api)["id"]
    other = api.email
    with app.app_context():
        lead = _lead(app, api)
        with pytest.raises(Boom):
            with unit_of_work():
                roles.assign_role(lead, incident_id, "scribe", user_email=other)
                boom()
        db.session.remove()
    history = api.get(f"/api/v1/incidents/{incident_id}/roles").get_json()["history"]
    assert [term["role"] for term in history] == ["commander"]
