"""Ingest: batches up to 10,000, idempotent upserts, whole-batch rejection, requesters as customers."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from incident.customers.models import Customer
from incident.extensions import db

from ..conftest import count_rows
from ..factories import ticket, tickets
from ..helpers import ingest


def test_one_ticket_and_a_batch(api_as):
    agent = api_as("agent")
    assert ingest(agent, ticket(1)) == {"created": 1, "updated": 0, "unchanged": 0, "linked": 0,
                                        "known_issue_matches": []}
    assert ingest(agent, {"tickets": tickets(50, start=2)})["created"] == 50
    listed = agent.get("/api/v1/tickets?per_page=5").get_json()
    assert listed["total"] == 51 and len(listed["items"]) == 5
    first = agent.get("/api/v1/tickets?q=(1)").get_json()["items"][0]
    assert first["tags"] == ["eu", "login"] and first["requester"]["email"] == "customer1@example.com"


@pytest.mark.parametrize("per_page", [1, 4, 5, 23, 50])
def test_every_page_in_order_from_either_end(api_as, per_page):
    """Pages past the middle are read from the oldest end; together the pages are still the
    whole list, newest first, ties broken by id, each ticket once."""
    agent = api_as("agent")
    body = [ticket(n, created_at=f"2026-11-22T09:{n % 7:02d}:00+00:00") for n in range(1, 24)]  # shared times
    ingest(agent, {"tickets": body})
    pages = [agent.get(f"/api/v1/tickets?per_page={per_page}&page={page}").get_json() for page in range(1, 30)]
    seen = [(t["created_at"], t["id"]) for p in pages for t in p["items"]]
    assert len(seen) == 23 == len(set(seen)) and seen == sorted(seen, reverse=True)
    assert all(p["total"] == 23 for p in pages)
    assert pages[-1]["items"] == []


def test_sending_the_same_tickets_again_changes_nothing(app, api_as):
    agent = api_as("agent")
    ingest(agent, {"tickets": tickets(20)})
    before = count_rows(app, "tickets", "customers")
    assert ingest(agent, {"tickets": tickets(20)}) == {"created": 0, "updated": 0, "unchanged": 20, "linked": 0,
                                                       "known_issue_matches": []}
    assert count_rows(app, "tickets", "customers") == before
    changed = tickets(20)
    changed[3]["subject"] = "Now it is worse"
    assert ingest(agent, {"tickets": changed}) == {"created": 0, "updated": 1, "unchanged": 19, "linked": 0,
                                                   "known_issue_matches": []}
    assert agent.get("/api/v1/tickets?q=worse").get_json()["total"] == 1


def test_the_same_id_in_two_sources_is_two_tickets(api_as):
    agent = api_as("agent")
    ingest(agent, {"tickets": [ticket(1), ticket(1, source="freshdesk")]})
    assert agent.get("/api/v1/tickets").get_json()["total"] == 2


def test_requesters_become_customers_matched_by_email_else_phone(app, api_as):
    agent = api_as("agent")
    ingest(agent, {"tickets": [
        ticket(1, requester={"name": "Mara", "email": "Mara@Example.com"}),
        ticket(2, requester={"name": "Mara again", "email": "mara@example.com", "phone": "+393471234567"}),
        ticket(3, requester={"name": "Phone only", "phone": "+39 347 765 4321"}),
        ticket(4, requester={"name": "Same phone", "phone": "+393477654321"}),
        ticket(5, requester={"name": "Anonymous"}),
    ]})
    with app.app_context():
        customers = db.session.execute(select(Customer.email, Customer.phone, Customer.channels).order_by(Customer.id)).all()
    assert customers == [("mara@example.com", None, ["ticket", "email"]), (None, "+393477654321", ["ticket", "sms"])]


BAD = [
    ({"external_id": ""}, "external_id"),
    ({"requester": {"email": "not-an-email"}}, "requester.email"),
    ({"requester": {"phone": "12345"}}, "requester.phone"),
    ({"tags": ["ok", "not a valid tag!"]}, "tags.1"),
    ({"created_at": "2026-11-22T09:14:00"}, "created_at"),
    ({"priority": "apocalyptic"}, "priority"),
]


@pytest.mark.parametrize("change, field", BAD)
def test_one_bad_ticket_rejects_the_whole_batch(app, api_as, change, field):
    agent = api_as("agent")
    batch = tickets(10)
    batch[7] = {**batch[7], **change}
    before = count_rows(app, "tickets", "customers", "timeline_events")
    response = agent.post("/api/v1/tickets", json={"tickets": batch})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["details"]["items"][0]["index"] == 7
    assert error["details"]["items"][0]["field"] == field
    assert count_rows(app, "tickets", "customers", "timeline_events") == before


def test_missing_external_id_is_reported_by_index(api_as):
    agent = api_as("agent")
    batch = tickets(3)
    del batch[0]["external_id"]
    del batch[2]["external_id"]
    items = agent.post("/api/v1/tickets", json={"tickets": batch}).get_json()["error"]["details"]["items"]
    assert [(i["index"], i["field"]) for i in items] == [(0, "external_id"), (2, "external_id")]


def test_oversized_batch_is_413(app, api_as):
    agent = api_as("agent")
    response = agent.post("/api/v1/tickets", json={"tickets": [{"external_id": str(n)} for n in range(10_001)]})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    assert count_rows(app, "tickets")["tickets"] == 0


def test_viewers_cannot_ingest(api_as):
    assert api_as("viewer").post("/api/v1/tickets", json=ticket(1)).status_code == 403
