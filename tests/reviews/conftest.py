"""The review tests' fixtures: a scripted SEV1 on the moved clock."""
from __future__ import annotations

from datetime import timedelta

import pytest

from incident import worker

from ..conftest import T0
from ..factories import ticket
from ..helpers import add_customers, broadcast, declare, ingest, run_worker
from .support import COMMS, ENGINEER, SECOND_LEAD, at, put_role, update


@pytest.fixture
def scripted(app, api, api_as, make_user, setup, channels):
    """INC-1, a SEV1: declared 09:00, communications 09:02, escalated 09:03 (pages out at once), an internal
    update 09:12, the first public one 09:15, an apology to 3 customers 09:20, 30 tickets linked 09:30,
    command handed over 09:45, L1 breached and L2 paged 10:03, acknowledged 10:05, monitoring 10:20,
    identified again 10:30, monitoring 10:40, resolved 11:00, reopened 11:10, resolved again 11:20."""
    make_user(SECOND_LEAD, role="lead", slack_id="UBO")
    make_user(COMMS, role="agent", slack_id="UCOMMS")
    engineer = api_as("engineer", ENGINEER)
    add_customers(app, *({"name": f"C{n}", "email": f"c{n}@example.com", "channels": ["email"], "services": ["login"]}
                         for n in range(3)))
    incident = declare(api, services=["login"])
    iid = incident["id"]
    at(2)
    put_role(api, iid, "communications", COMMS)
    at(3)
    assert api.post(f"/api/v1/incidents/{iid}/escalate", json={"reason": "L1 cannot reproduce"}).status_code == 200
    worker.tick(app)
    at(12)
    update(api, iid, message="Internal: looking at the deploy", public=False)
    at(15)
    update(api, iid, "identified", "Bad deploy found")
    at(20)
    assert broadcast(api, iid, channels=["email"]).status_code == 201
    run_worker(app)
    at(30)
    ingest(api, {"tickets": [ticket(n, created_at=(T0 + timedelta(minutes=1 + n)).isoformat()) for n in range(30)]})
    assert api.post(f"/api/v1/incidents/{iid}/tickets", json={"filter": {"tags": ["login"]}}).get_json()["linked"] == 30
    at(45)
    put_role(api, iid, "commander", SECOND_LEAD)
    at(63)
    worker.tick(app)
    at(65)
    assert engineer.post(f"/api/v1/incidents/{iid}/acknowledge").get_json()["outcome"] == "first"
    at(80)
    update(api, iid, "monitoring", "Rolled back; watching")
    at(90)
    update(api, iid, "identified", "Errors came back")
    at(100)
    update(api, iid, "monitoring", "Second fix out")
    at(120)
    update(api, iid, "resolved", "All good")
    at(130)
    update(api, iid, "investigating", "Reopened: a region still fails")
    at(140)
    update(api, iid, "resolved", "All regions good")
    return iid
