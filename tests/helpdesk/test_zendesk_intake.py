"""Tickets arrive by themselves: Zendesk's signed webhook, the incremental export and the backfill."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from incident import clock
from incident.extensions import db
from incident.helpdesk import intake
from incident.helpdesk.models import HelpdeskCursor
from incident.tickets.models import Ticket

from ..conftest import count_rows
from ..helpers import declare
from ..zendesk_stand_in import sign_webhook
from .support import WEBHOOK_SECRET

TICKET = {"id": 4242, "subject": "Login broken", "description": "502 on /login", "status": "Open",
          "tags": "login eu", "requester": {"name": "Mara", "email": "mara@example.com", "phone": "+393471234567"},
          "locale": "it", "created_at": "2026-11-22T08:59:00Z", "updated_at": "2026-11-22T08:59:00Z"}


def send(client, body, *, secret=WEBHOOK_SECRET, timestamp=None, signature=None, raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body).encode()
    timestamp = timestamp or clock.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {"X-Zendesk-Webhook-Signature-Timestamp": timestamp, "Content-Type": "application/json",
               "X-Zendesk-Webhook-Signature": signature or sign_webhook(secret, data, timestamp)}
    return client.post("/webhooks/zendesk", data=data, headers=headers)


def tickets(app):
    with app.app_context():
        rows = db.session.execute(select(Ticket.source, Ticket.external_id, Ticket.tags, Ticket.incident_id, Ticket.status)
                                  .order_by(Ticket.id)).all()
        db.session.rollback()
        return rows


def test_a_signed_webhook_upserts_the_ticket_once(app, client, connected):
    first = send(client, {"ticket": TICKET})
    assert first.status_code == 200 and first.get_json() == {"created": 1, "linked": 0}
    assert send(client, {"ticket": TICKET}).get_json() == {"unchanged": 1, "linked": 0}
    changed = send(client, {"ticket": {**TICKET, "subject": "Login broken for everyone"}})
    assert changed.get_json() == {"updated": 1, "linked": 0}
    [(source, external_id, tags, _, status)] = tickets(app)
    assert (source, external_id, tags.split(), status) == ("zendesk", "4242", ["eu", "login"], "open")


def test_link_rules_catch_webhook_tickets_as_the_batch_api_does(app, api, client, connected):
    incident = declare(api)
    assert api.post(f"/api/v1/incidents/{incident['id']}/link-rules", json={"tags": ["login"]}).status_code == 201
    assert send(client, {"ticket": TICKET}).get_json() == {"created": 1, "linked": 1}
    assert tickets(app)[0].incident_id == incident["id"]


def test_unsigned_stale_or_forged_webhooks_are_refused_and_write_nothing(app, client, connected):
    body = json.dumps({"ticket": TICKET}).encode()
    old = (clock.utcnow() - timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert client.post("/webhooks/zendesk", data=body).status_code == 401
    assert send(client, None, raw=body, secret="not-the-secret").status_code == 401
    assert send(client, None, raw=body, timestamp=old).status_code == 401
    assert send(client, None, raw=body, timestamp="yesterday").status_code == 401
    signed = send(client, None, raw=body, signature=sign_webhook(WEBHOOK_SECRET, body, "1")).status_code
    assert signed == 401
    epoch = str(int(clock.utcnow().timestamp()))             # Zendesk may send the time as epoch seconds
    assert send(client, None, raw=body, timestamp=epoch).status_code == 200
    assert len(tickets(app)) == 1


def test_without_a_secret_no_webhook_is_taken(app, client, connected, monkeypatch):
    monkeypatch.setitem(app.config, "ZENDESK_WEBHOOK_SECRET", None)
    response = send(client, {"ticket": TICKET})
    assert response.status_code == 401 and "ZENDESK_WEBHOOK_SECRET" in response.get_json()["error"]["message"]
    assert tickets(app) == []


def test_malformed_payloads_are_400_with_the_reason_and_write_nothing(app, client, connected):
    cases = {b"not json": "not JSON", json.dumps({"nope": 1}).encode(): "ticket",
             json.dumps({"ticket": {**TICKET, "id": None}}).encode(): "no id",
             json.dumps({"ticket": {**TICKET, "id": "abc"}}).encode(): "no id",
             json.dumps({"ticket": {**TICKET, "tags": 5}}).encode(): "tags",
             json.dumps({"ticket": {**TICKET, "requester": "Mara"}}).encode(): "requester",
             json.dumps({"ticket": {**TICKET, "subject": ["x"]}}).encode(): "subject"}
    for raw, reason in cases.items():
        response = send(client, None, raw=raw)
        assert response.status_code == 400, raw
        assert reason in response.get_json()["error"]["message"], raw
    assert tickets(app) == []


def test_tickets_of_another_brand_are_refused_with_the_reason(app, client, connected, monkeypatch):
    monkeypatch.setitem(app.config, "ZENDESK_BRAND_IDS", frozenset({7}))
    response = send(client, {"ticket": {**TICKET, "brand_id": 8}})
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "unknown_brand"
    assert send(client, {"ticket": {**TICKET, "brand_id": 7}}).status_code == 200
    assert len(tickets(app)) == 1


def test_an_unreadable_phone_does_not_cost_the_ticket(app, client, connected):
    response = send(client, {"ticket": {**TICKET, "requester": {"name": "Mara", "phone": "call me"}}})
    assert response.status_code == 200
    assert len(tickets(app)) == 1


def test_the_export_brings_what_the_webhooks_lost_and_keeps_its_cursor(app, client, connected):
    zendesk = connected
    zendesk.add_ticket(id=77, tags=["login"], updated_at="2026-11-01T09:00:00Z")   # before the first run: history
    for n in range(1, 4):
        zendesk.add_ticket(id=n, tags=["login"], requester={"name": f"C{n}", "email": f"c{n}@example.com"})
    assert intake.follow_export(app) == 3                     # the first run starts now; history is the backfill's
    assert [t.external_id for t in tickets(app)] == ["1", "2", "3"]
    assert send(client, {"ticket": {**TICKET, "id": 2, "tags": ["login"]}}).status_code == 200
    zendesk.add_ticket(id=9, tags=["login"])
    assert intake.follow_export(app) == 1                     # only what changed since the cursor
    assert sorted(int(t.external_id) for t in tickets(app)) == [1, 2, 3, 9]   # webhook + export: one ticket each
    with app.app_context():
        state = db.session.get(HelpdeskCursor, "zendesk")
        assert state.cursor and state.tickets == 4
    assert intake.follow_export(app) == 0


def test_an_export_the_helpdesk_refuses_keeps_the_cursor_where_it_was(app, connected):
    zendesk = connected
    zendesk.add_ticket(id=1, tags=["login"])
    assert intake.follow_export(app) == 1
    with app.app_context():
        before = db.session.get(HelpdeskCursor, "zendesk").cursor
    zendesk.add_ticket(id=2, tags=["login"])
    zendesk.fail_next(500, path_contains="incremental")
    assert intake.follow_export(app) == 0
    with app.app_context():
        assert db.session.get(HelpdeskCursor, "zendesk").cursor == before
    assert intake.follow_export(app) == 1


def test_backfill_loads_history_with_progress(app, connected, runner):
    zendesk = connected
    for n in range(1, 2501):
        zendesk.add_ticket(id=n, tags=["login"])
    result = runner.invoke(args=["helpdesk", "backfill", "--since", "2026-01-01"])
    assert result.exit_code == 0, result.output
    assert "2,500 tickets read" in result.output and "done: 2,500 tickets since 2026-01-01" in result.output
    assert count_rows(app, "tickets")["tickets"] == 2500
    assert len(zendesk.calls("incremental")) == 3             # 1,000 a page; the third, short, says the end


def test_backfill_refuses_without_zendesk(app, runner):
    result = runner.invoke(args=["helpdesk", "backfill", "--since", "2026-12-01"])
    assert result.exit_code != 0 and "ZENDESK_URL is not set" in result.output
    result = runner.invoke(args=["helpdesk", "backfill", "--since", "last week"])
    assert result.exit_code != 0 and "use a date" in result.output
