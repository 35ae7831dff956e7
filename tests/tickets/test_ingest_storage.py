"""Ingest's bulk paths (COPY on PostgreSQL, the driver's multi-row INSERT on SQLite) store what the ORM
stores, and the answer says where the time went (Server-Timing)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import text

from incident import clock
from incident.customers.models import Customer
from incident.extensions import db
from incident.server_timing import parse_header
from incident.tickets.models import Ticket

from ..factories import ticket, tickets
from ..helpers import ingest

NOW = datetime(2026, 11, 22, 9, 30, 15, 123456, tzinfo=timezone.utc)
CREATED = "2026-11-22T11:14:07.654321+02:00"   # an offset and microseconds: converted to UTC when stored


def stored(app, table: str, columns: list[str], where: str) -> tuple:
    """The columns as the database holds them, as text (SQLite: the very text stored)."""
    casts = ", ".join(f"CAST({c} AS TEXT)" for c in columns)
    with app.app_context():
        return tuple(db.session.execute(text(f"SELECT {casts} FROM {table} WHERE {where}")).one())


def test_tickets_and_customers_are_stored_as_the_orm_stores_them(app, api_as):
    clock.freeze(NOW)
    ingest(api_as("agent"), {"tickets": [
        ticket(1, created_at=CREATED),
        ticket(2, created_at=CREATED, requester={"name": "Phone only", "phone": "+393471234567"})]})
    with app.app_context():   # the same values written by the ORM, for comparison
        db.session.add_all([
            Customer(name="ORM", email="orm@example.com", locale="en", channels=["ticket", "email"],
                     opted_out=[], created_at=NOW, updated_at=NOW),
            Customer(name="ORM phone", phone="+393470000000", locale="en", channels=["ticket", "sms"],
                     opted_out=[], created_at=NOW, updated_at=NOW),
            Ticket(source="orm", external_id="1", created_at=datetime.fromisoformat(CREATED), received_at=NOW,
                   updated_at=NOW, content_hash="x", tags=" eu login ")])
        db.session.commit()
    columns = ["locale", "channels", "opted_out", "created_at", "updated_at"]
    assert stored(app, "customers", columns, "email = 'customer1@example.com'") == stored(
        app, "customers", columns, "email = 'orm@example.com'")
    assert stored(app, "customers", columns, "phone = '+393471234567'") == stored(
        app, "customers", columns, "phone = '+393470000000'")
    columns = ["tags", "created_at", "received_at", "updated_at"]
    assert stored(app, "tickets", columns, "external_id = 'ZD-1'") == stored(
        app, "tickets", columns, "source = 'orm'")
    with app.app_context():
        first = db.session.get_one(Ticket, 1)
        assert first.created_at == NOW.replace(hour=9, minute=14, second=7, microsecond=654321)
        assert first.received_at == NOW and first.customer_id is not None


def test_a_batch_keeps_its_order_in_ids_and_finds_its_customers(app, api_as):
    agent = api_as("agent")
    body = tickets(30) + [ticket(31, requester={"phone": "+39 347 765 4321"}),
                          ticket(32, requester={"phone": "+393477654321"})]
    ingest(agent, {"tickets": body[:10]})
    assert ingest(agent, {"tickets": body})["created"] == 22
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT t.external_id, t.id, c.email, c.phone FROM tickets t JOIN customers c ON c.id = t.customer_id"
            " ORDER BY t.id")).all()
    assert [r.external_id for r in rows] == [f"ZD-{n}" for n in range(1, 33)]
    assert all(r.email == f"customer{n}@example.com" for n, r in zip(range(1, 31), rows, strict=False))
    assert rows[30].id != rows[31].id and rows[30].phone == rows[31].phone == "+393477654321"
    assert len({r.phone for r in rows[30:]}) == 1 and count(app, "customers") == 31


def count(app, table: str) -> int:
    with app.app_context():
        return db.session.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def test_the_answer_says_where_the_time_went(api_as):
    response = api_as("agent").post("/api/v1/tickets", json={"tickets": tickets(3)})
    assert response.status_code == 200
    steps = parse_header(response.headers["Server-Timing"])
    assert list(steps) == ["parse", "rows", "lookup", "customers", "insert", "update", "rules", "known_issues",
                           "commit"]
    assert all(ms >= 0 for ms in steps.values()) and steps["insert"] > 0 and steps["update"] == 0


def test_two_ingests_in_one_transaction_share_the_staging(app, make_user):
    """csv_import calls ingest_tickets chunk after chunk before one commit (PostgreSQL: the staging table
    of the first call is reused, emptied)."""
    from incident.tickets.ingest import ingest_tickets
    from incident.tickets.schemas import TicketIn

    with app.app_context():
        first = ingest_tickets(None, [TicketIn.model_validate(t) for t in tickets(5)], commit=False)
        second = ingest_tickets(None, [TicketIn.model_validate(t) for t in tickets(5, start=4)], commit=False)
        db.session.commit()
        assert (first.created, second.created, second.unchanged) == (5, 3, 2)
    assert count(app, "tickets") == 8 and count(app, "customers") == 8


def test_one_pass_validation_reads_a_batch_as_item_by_item_validation_does(app):
    """read_batch validates {"tickets": [...]} in one pass over the raw JSON; every value comes out as
    parse_batch (one item at a time, from json.loads) makes it."""
    import json

    from incident.tickets.routes import parse_batch, read_batch

    body = {"tickets": [
        ticket(1, requester={"name": " Mara ", "email": " Mara@Example.COM ", "phone": "+39 347 123-4567"},
               tags=["Login Page", "EU"], services=["API"], created_at="2026-11-22T11:14:07.5+02:00"),
        ticket(2, source="Freshdesk", priority=None, status="pending", requester={}),
        {"external_id": "  3  ", "subject": "  spaces  ", "description": "é ✓ \\n"}]}
    raw = json.dumps(body)
    with app.test_request_context("/api/v1/tickets", method="POST", data=raw, content_type="application/json"):
        one_pass = read_batch()
    assert [t.model_dump() for t in one_pass] == [t.model_dump() for t in parse_batch(json.loads(raw))]
    assert one_pass[0].requester.phone == "+393471234567" and one_pass[0].tags == ["login_page", "eu"]


def test_a_bad_item_in_a_big_batch_is_reported_by_index_field_and_message(app, api_as):
    agent = api_as("agent")
    batch = tickets(500)
    batch[123] = {**batch[123], "requester": {"email": "nope"}}
    batch[456] = {**batch[456], "tags": ["ok", "bad tag!"], "priority": "whenever"}
    response = agent.post("/api/v1/tickets", json={"tickets": batch})
    assert response.status_code == 422
    details = response.get_json()["error"]["details"]
    assert [(i["index"], i["field"]) for i in details["items"]] == [
        (123, "requester.email"), (456, "tags.1"), (456, "priority")]
    assert all(i["message"] for i in details["items"]) and details["invalid"] == 3
    assert count(app, "tickets") == count(app, "customers") == 0


def test_the_api_document_names_the_server_timing_header(client):
    success = client.get("/api/openapi.json").get_json()["paths"]["/tickets"]["post"]["responses"]["200"]
    assert "parse" in success["headers"]["Server-Timing"]["description"]
