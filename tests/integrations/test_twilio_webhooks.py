"""Twilio webhooks: ACK by SMS from an on-call phone, and delivery receipts, signed as Twilio signs them."""
from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from incident import clock
from incident.customers.models import Customer
from incident.extensions import db
from incident.integrations.twilio import USAGE, Sms, parse_sms, twiml
from incident.outbox.models import Delivery
from incident.validation import mask_phone

from ..conftest import count_rows
from ..helpers import AMY, PUBLIC, TWILIO_TOKEN, declare, escalation, inbound, post, receipt, timeline

STRANGER = "+447700900123"
CUSTOMER = "+393478888888"
MASKED = mask_phone(STRANGER)  # +44********23
TABLES = ("acknowledgements", "timeline_events", "deliveries")
XML = '<?xml version="1.0" encoding="UTF-8"?>'










@pytest.fixture
def incident_id(app, api, setup):
    """An open incident escalated to L1 (amy)."""
    incident_id = declare(api, title="Login failing", severity="SEV1")["id"]
    assert api.post(f"/api/v1/incidents/{incident_id}/escalate", json={}).status_code == 200
    return incident_id


# Acknowledging by SMS ------------------------------------------------------------------------

@pytest.mark.parametrize("written", ["ACK {id}", "ack inc-{id}", "ACK INC-{id}", "Ack #{id}.", "ACK{id}"])
def test_ack_by_sms(api, hooks, incident_id, written):
    response = post(hooks, "/twilio/sms", inbound(written.format(id=incident_id)))
    assert response.status_code == 200
    assert response.content_type.startswith("application/xml")
    assert response.get_data(as_text=True) == (
        f"{XML}<Response><Message>Acknowledged INC-{incident_id}. Thank you.</Message></Response>")
    view = escalation(api, incident_id)
    assert view["state"] == "acknowledged"
    assert [(a["who"], a["via"], a["outcome"]) for a in view["acknowledgements"]] == [
        ("amy@example.com", "sms", "first")]
    assert [(e["actor"], e["data"]["via"]) for e in timeline(api, incident_id) if e["kind"] == "acknowledged"] == [
        ("amy@example.com", "sms")]


def test_a_second_ack_is_a_duplicate(api, hooks, incident_id):
    post(hooks, "/twilio/sms", inbound(f"ACK {incident_id}"))
    response = post(hooks, "/twilio/sms", inbound(f"ACK {incident_id}", sender="+393472222222"))
    assert f"INC-{incident_id} was already acknowledged" in response.get_data(as_text=True)
    assert [a["outcome"] for a in escalation(api, incident_id)["acknowledgements"]] == ["first", "duplicate"]


def test_an_unknown_number_is_refused_recorded_and_never_logged_in_full(api, hooks, incident_id, caplog):
    caplog.set_level(logging.DEBUG)
    response = post(hooks, "/twilio/sms", inbound(f"ACK {incident_id}", sender=STRANGER))
    assert response.status_code == 200
    assert "This number is not on Tocsin's on-call staff" in response.get_data(as_text=True)
    view = escalation(api, incident_id)
    assert view["state"] == "paging"
    assert [(a["who"], a["via"], a["outcome"]) for a in view["acknowledgements"]] == [
        (MASKED, "sms", "refused")]
    assert MASKED in caplog.text
    assert all(STRANGER not in r.getMessage() and "7700900123" not in r.getMessage() for r in caplog.records)


def test_staff_numbers_are_not_logged_in_full_either(hooks, incident_id, caplog):
    caplog.set_level(logging.DEBUG)
    post(hooks, "/twilio/sms", inbound(f"ACK {incident_id}"))
    post(hooks, "/twilio/sms", inbound("STOP"))
    assert caplog.records
    assert all("3471111111" not in r.getMessage() for r in caplog.records)


def test_an_agent_phone_is_refused(api, hooks, make_user, incident_id):
    make_user("agnes@example.com", role="agent", phone="+393475555555")
    response = post(hooks, "/twilio/sms", inbound(f"ACK {incident_id}", sender="+393475555555"))
    assert "Your Tocsin role (agent) cannot acknowledge pages" in response.get_data(as_text=True)
    assert [(a["who"], a["outcome"]) for a in escalation(api, incident_id)["acknowledgements"]] == [
        ("agnes@example.com", "refused")]


def test_ack_of_an_unknown_incident(hooks, setup):
    response = post(hooks, "/twilio/sms", inbound("ACK 9999"))
    assert response.get_data(as_text=True) == (
        f"{XML}<Response><Message>Tocsin has no incident INC-9999.</Message></Response>")


@pytest.mark.parametrize("keyword", ["STOP", "stop", " Start ", "UNSUBSCRIBE", "HELP"])
def test_customer_keywords_get_an_empty_answer(app, hooks, setup, keyword, caplog):
    caplog.set_level(logging.INFO, logger="incident.integrations.twilio")
    before = count_rows(app, *TABLES)
    response = post(hooks, "/twilio/sms", inbound(keyword, sender=STRANGER))
    assert response.status_code == 200 and response.get_data(as_text=True) == f"{XML}<Response/>"
    assert count_rows(app, *TABLES) == before
    assert f"sms keyword {keyword.strip().upper()} from {MASKED}" in caplog.text


def test_anything_else_gets_the_usage_if_staff(app, hooks, setup):
    staff = post(hooks, "/twilio/sms", inbound("what do I do?"))
    assert staff.get_data(as_text=True) == f"{XML}<Response><Message>{USAGE}</Message></Response>"
    customer = post(hooks, "/twilio/sms", inbound("thanks for letting us know", sender=STRANGER))
    assert customer.get_data(as_text=True) == f"{XML}<Response/>"


# Replays: Twilio's signature has no timestamp, so a captured request stays valid ----------------

def test_a_replayed_start_does_not_resubscribe_after_stop(app, hooks, make_customer):
    customer_id = make_customer(phone=CUSTOMER)
    start = inbound("START", sender=CUSTOMER)
    assert post(hooks, "/twilio/sms", start).status_code == 200
    assert post(hooks, "/twilio/sms", inbound("STOP", sender=CUSTOMER)).status_code == 200
    assert opted_out(app, customer_id) == ["sms"]
    replay = post(hooks, "/twilio/sms", start)   # the START an eavesdropper kept, sent again
    assert replay.status_code == 200 and replay.get_data(as_text=True) == f"{XML}<Response/>"
    assert opted_out(app, customer_id) == ["sms"]
    assert post(hooks, "/twilio/sms", inbound("START", sender=CUSTOMER)).status_code == 200   # a new one counts
    assert opted_out(app, customer_id) == []


def test_a_replayed_stop_changes_nothing_either(app, hooks, make_customer):
    customer_id = make_customer(phone=CUSTOMER)
    stop = inbound("STOP", sender=CUSTOMER)
    post(hooks, "/twilio/sms", stop)
    post(hooks, "/twilio/sms", inbound("START", sender=CUSTOMER))
    assert post(hooks, "/twilio/sms", stop).status_code == 200
    assert opted_out(app, customer_id) == []


def test_a_replayed_ack_is_answered_and_records_nothing(app, api, hooks, incident_id, caplog):
    caplog.set_level(logging.INFO, logger="incident.integrations.twilio")
    ack = inbound(f"ACK {incident_id}")
    assert "Acknowledged" in post(hooks, "/twilio/sms", ack).get_data(as_text=True)
    before = count_rows(app, *TABLES)
    replay = post(hooks, "/twilio/sms", ack)
    assert replay.status_code == 200 and replay.get_data(as_text=True) == f"{XML}<Response/>"
    assert count_rows(app, *TABLES) == before
    assert [a["outcome"] for a in escalation(api, incident_id)["acknowledgements"]] == ["first"]
    assert f"twilio sms {ack['MessageSid']} seen before: ignored" in caplog.text
    assert AMY not in caplog.text and "3471111111" not in caplog.text


def test_a_replayed_receipt_is_answered_and_changes_nothing(app, hooks, sent_sms, caplog):
    caplog.set_level(logging.INFO, logger="incident.integrations.twilio")
    delivered = receipt(SID, "delivered")
    assert post(hooks, "/twilio/status", delivered).status_code == 200
    replay = post(hooks, "/twilio/status", delivered)
    assert replay.status_code == 200 and replay.get_data(as_text=True) == f"{XML}<Response/>"
    assert delivery(app, sent_sms) == ("delivered", None)
    assert f"twilio status {SID} delivered seen before: ignored" in caplog.text
    assert count_rows(app, "twilio_events")["twilio_events"] == 1


def test_a_request_and_its_replay_at_once_are_handled_once(app, api, hooks_app, hooks, incident_id):
    params = inbound(f"ACK {incident_id}")
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{PUBLIC}/twilio/sms", params)
    barrier, answers = threading.Barrier(2), []

    def deliver():
        client = hooks_app.test_client()
        barrier.wait()
        answers.append(client.post("/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 200]
    assert sorted("Acknowledged" in a.get_data(as_text=True) for a in answers) == [False, True]
    assert [a["outcome"] for a in escalation(api, incident_id)["acknowledgements"]] == ["first"]


def test_an_unsigned_replay_is_refused_before_it_is_remembered(app, hooks, setup):
    params = inbound("START", sender=CUSTOMER)
    assert hooks.post("/twilio/sms", data=params).status_code == 401
    assert count_rows(app, "twilio_events")["twilio_events"] == 0
    assert post(hooks, "/twilio/sms", params).status_code == 200   # the genuine request still counts
    assert count_rows(app, "twilio_events")["twilio_events"] == 1


@pytest.fixture
def make_customer(app):
    def make(*, phone: str) -> int:
        with app.app_context():
            row = Customer(name="Mara", phone=phone, channels=["sms"], opted_out=[], locale="en",
                           created_at=clock.utcnow(), updated_at=clock.utcnow())
            db.session.add(row)
            db.session.commit()
            return row.id

    return make


def opted_out(app, customer_id: int) -> list[str]:
    with app.app_context():
        return db.session.get(Customer, customer_id).opted_out


# Signatures ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/twilio/sms", "/twilio/status"])
def test_bad_or_missing_signatures_are_refused_and_change_nothing(app, api, hooks, incident_id, path):
    params = inbound(f"ACK {incident_id}") if path == "/twilio/sms" else receipt("SM" + "f" * 32, "delivered")
    before = count_rows(app, *TABLES)
    wrong_token = post(hooks, path, params, token="not-the-token")
    wrong_url = post(hooks, path, params, url=f"http://localhost{path}")  # not the public URL Twilio calls
    missing = hooks.post(path, data=params)
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{PUBLIC}{path}", params)
    changed = hooks.post(path, data={**params, "From": STRANGER, "MessageStatus": "failed"},
                         headers={"X-Twilio-Signature": signature})
    for response in (wrong_token, wrong_url, missing, changed):
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "invalid_signature"
    assert count_rows(app, *TABLES) == before
    assert escalation(api, incident_id)["state"] == "paging"


def test_twilio_not_configured_answers_401(hooks, hooks_app, monkeypatch, setup):
    monkeypatch.setitem(hooks_app.config, "TWILIO_AUTH_TOKEN", "")
    response = post(hooks, "/twilio/sms", inbound("ACK 1"))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "twilio_not_configured"


def test_without_a_public_base_url_the_request_url_is_the_signed_one(api, hooks, hooks_app, monkeypatch, incident_id):
    monkeypatch.setitem(hooks_app.config, "PUBLIC_BASE_URL", "")
    response = post(hooks, "/twilio/sms", inbound(f"ACK {incident_id}"), url="http://localhost/twilio/sms")
    assert response.status_code == 200
    assert escalation(api, incident_id)["state"] == "acknowledged"


# Delivery receipts ---------------------------------------------------------------------------

SID = "SM" + "9" * 32


@pytest.fixture
def sent_sms(app, frozen):
    """An SMS page Twilio accepted: status sent, provider_id its Message SID."""
    with app.app_context():
        row = Delivery(purpose="page", dedupe_key="page:test:sms", channel="sms", recipient=AMY, text="Page",
                       status="sent", provider_id=SID, created_at=clock.utcnow(), sent_at=clock.utcnow(),
                       updated_at=clock.utcnow())
        db.session.add(row)
        db.session.commit()
        return row.id


def delivery(app, row_id) -> tuple:
    with app.app_context():
        return db.session.execute(select(Delivery.status, Delivery.error).where(Delivery.id == row_id)).one()


def test_delivered(app, hooks, sent_sms):
    for status in ("queued", "sent"):  # in-between statuses change nothing
        assert post(hooks, "/twilio/status", receipt(SID, status)).status_code == 200
        assert delivery(app, sent_sms) == ("sent", None)
    response = post(hooks, "/twilio/status", receipt(SID, "delivered"))
    assert response.status_code == 200
    assert delivery(app, sent_sms) == ("delivered", None)


@pytest.mark.parametrize("status, code, error", [("failed", "30003", "30003"), ("undelivered", "30005", "30005"),
                                                 ("undelivered", None, "undelivered")])
def test_failed(app, hooks, sent_sms, status, code, error):
    post(hooks, "/twilio/status", receipt(SID, status, code))
    assert delivery(app, sent_sms) == ("failed", error)


def test_receipts_never_move_a_row_backwards(app, hooks, sent_sms):
    post(hooks, "/twilio/status", receipt(SID, "delivered"))
    for late in ("sent", "queued", "undelivered", "failed"):
        assert post(hooks, "/twilio/status", receipt(SID, late, "30003")).status_code == 200
    assert delivery(app, sent_sms) == ("delivered", None)


def test_an_unknown_sid_changes_nothing(app, hooks, sent_sms):
    response = post(hooks, "/twilio/status", receipt("SM" + "0" * 32, "failed", "30003"))
    assert response.status_code == 200
    assert delivery(app, sent_sms) == ("sent", None)


# Pure helpers --------------------------------------------------------------------------------

@pytest.mark.parametrize("body, expected", [
    ("ACK 42", Sms("ack", 42)), ("ack inc-42", Sms("ack", 42)), ("ACK INC-42", Sms("ack", 42)),
    ("  Ack #42! ", Sms("ack", 42)), ("ack: 42", Sms("ack", 42)), ("ACK42", Sms("ack", 42)),
    ("acknowledge INC 42", Sms("ack", 42)),
    ("STOP", Sms("keyword", keyword="STOP")), ("start", Sms("keyword", keyword="START")),
    ("ACK", Sms("other")), ("acknowledged 42", Sms("other")), ("ACK 42 and 43", Sms("other")),
    ("stop please", Sms("other")), ("", Sms("other")), ("hello", Sms("other")),
])
def test_parse_sms(body, expected):
    assert parse_sms(body) == expected


def test_twiml_escapes_text():
    assert twiml("a <b> & c") == f"{XML}<Response><Message>a &lt;b&gt; &amp; c</Message></Response>"
    assert twiml() == f"{XML}<Response/>"
