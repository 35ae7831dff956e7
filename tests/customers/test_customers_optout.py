"""SMS STOP / START from customers, through the signed Twilio webhook: opt-outs recorded, phones never logged."""
from __future__ import annotations

import logging

import pytest

from incident.validation import mask_phone

from ..conftest import count_rows
from ..helpers import inbound, post

PHONE = "+393471234567"
OTHER = "+393479999999"


@pytest.fixture
def customers(api_as):
    """Two customers sharing PHONE, one with OTHER; returns (agent client, their ids)."""
    agent = api_as("agent", "agent@example.com")
    response = agent.post("/api/v1/customers", json={"customers": [
        {"external_id": "C-1", "email": "a@example.com", "phone": PHONE, "channels": ["sms", "email"]},
        {"external_id": "C-2", "phone": PHONE, "email": "b@example.com", "channels": ["sms"]},
        {"external_id": "C-3", "email": "c@example.com", "phone": OTHER}]})
    assert response.status_code == 200
    return agent, response.get_json()["ids"]


def opted_out(agent, ids):
    return [agent.get(f"/api/v1/customers/{i}").get_json()["opted_out"] for i in ids]


@pytest.mark.parametrize("keyword", ["STOP", "stop", "STOPALL", "Unsubscribe", "CANCEL", "END", "QUIT"])
def test_stop_opts_every_customer_with_the_phone_out_of_sms(hooks, customers, keyword):
    agent, ids = customers
    response = post(hooks, "/twilio/sms", inbound(keyword, sender=PHONE))
    assert response.status_code == 200
    assert opted_out(agent, ids) == [["sms"], ["sms"], []]


@pytest.mark.parametrize("keyword", ["START", "yes", "UNSTOP"])
def test_start_opts_back_in(hooks, customers, keyword):
    agent, ids = customers
    agent.patch(f"/api/v1/customers/{ids[0]}", json={"opted_out": ["email"]})
    post(hooks, "/twilio/sms", inbound("STOP", sender=PHONE))
    assert opted_out(agent, ids) == [["email", "sms"], ["sms"], []]
    post(hooks, "/twilio/sms", inbound(keyword, sender=PHONE))
    assert opted_out(agent, ids) == [["email"], [], []]


@pytest.mark.parametrize("keyword", ["HELP", "INFO"])
def test_help_changes_nothing(hooks, customers, keyword):
    agent, ids = customers
    post(hooks, "/twilio/sms", inbound("STOP", sender=OTHER))
    post(hooks, "/twilio/sms", inbound(keyword, sender=OTHER))
    assert opted_out(agent, ids) == [[], [], ["sms"]]


def test_stop_in_a_sentence_is_not_a_keyword(hooks, customers):
    agent, ids = customers
    post(hooks, "/twilio/sms", inbound("please stop texting", sender=PHONE))
    assert opted_out(agent, ids) == [[], [], []]


def test_a_badly_signed_stop_changes_nothing(app, hooks, customers):
    agent, ids = customers
    response = post(hooks, "/twilio/sms", inbound("STOP", sender=PHONE), token="wrong")
    assert response.status_code == 401
    assert opted_out(agent, ids) == [[], [], []]


def test_stop_is_logged_with_the_phone_masked(hooks, customers, caplog):
    caplog.set_level(logging.DEBUG)
    post(hooks, "/twilio/sms", inbound("STOP", sender=PHONE))
    assert f"sms keyword STOP from {mask_phone(PHONE)}: 2 customers changed" in caplog.text
    assert all("3471234567" not in record.getMessage() for record in caplog.records)


def test_stop_from_an_unknown_number_writes_nothing(app, hooks, customers):
    before = count_rows(app, "customers")
    assert post(hooks, "/twilio/sms", inbound("STOP", sender="+447700900123")).status_code == 200
    assert count_rows(app, "customers") == before
    assert opted_out(customers[0], customers[1]) == [[], [], []]


def test_staff_record_opt_outs_but_only_the_customer_lifts_one(api_as, hooks, customers):
    """An agent may note "stop emailing me", not undo a customer's opt-out; a lead may lift an
    email one on the customer's request; an SMS one only START lifts, whoever asks."""
    agent, ids = customers
    lead = api_as("lead", "lead@example.com")
    post(hooks, "/twilio/sms", inbound("STOP", sender=PHONE))
    assert agent.patch(f"/api/v1/customers/{ids[0]}", json={"opted_out": ["email", "sms"]}).status_code == 200

    response = agent.patch(f"/api/v1/customers/{ids[0]}", json={"opted_out": ["sms"], "locale": "it"})
    assert response.status_code == 403 and response.get_json()["error"]["details"] == {"opted_out": ["email"]}
    for who in (agent, lead):
        response = who.patch(f"/api/v1/customers/{ids[0]}", json={"opted_out": [], "locale": "it"})
        assert response.status_code == 409, response.get_json()
        assert response.get_json()["error"]["code"] == "opt_in_by_customer"
    assert opted_out(agent, ids) == [["email", "sms"], ["sms"], []]
    assert agent.get(f"/api/v1/customers/{ids[0]}").get_json()["locale"] == "en"   # nothing half-written

    assert lead.patch(f"/api/v1/customers/{ids[0]}", json={"opted_out": ["sms"]}).status_code == 200
    assert agent.patch(f"/api/v1/customers/{ids[1]}", json={"name": "Bea"}).status_code == 200
    assert opted_out(agent, ids) == [["sms"], ["sms"], []]
    post(hooks, "/twilio/sms", inbound("START", sender=PHONE))
    assert opted_out(agent, ids) == [[], [], []]


def test_the_opt_out_history_says_when_how_and_by_whom(app, hooks, customers, client, make_user, api_as, frozen):
    """STOP by SMS, an opt-out and its lifting by staff, START by SMS: each on the customer's history,
    newest first, on the Customers page."""
    from incident import clock
    from incident.customers.service import opt_out_history

    from ..helpers import logged_in

    agent, ids = customers
    post(hooks, "/twilio/sms", inbound("STOP", sender=PHONE))
    clock.advance(minutes=5)
    lead = api_as("lead", "lead@example.com")
    assert lead.patch(f"/api/v1/customers/{ids[0]}", json={"opted_out": ["sms", "email"]}).status_code == 200
    clock.advance(minutes=5)
    assert lead.patch(f"/api/v1/customers/{ids[0]}", json={"opted_out": ["sms"]}).status_code == 200
    clock.advance(minutes=5)
    post(hooks, "/twilio/sms", inbound("START", sender=PHONE))
    with app.app_context():
        history = [(c.channel, c.opted_out, c.how, c.by) for c in opt_out_history(ids[0])]
        assert history == [("sms", False, "sms_keyword", None), ("email", False, "staff", "lead@example.com"),
                           ("email", True, "staff", "lead@example.com"), ("sms", True, "sms_keyword", None)]
        assert [(c.channel, c.opted_out) for c in opt_out_history(ids[1])] == [("sms", False), ("sms", True)]
        assert opt_out_history(ids[2]) == []
    logged_in(client, make_user, role="viewer", email="viewer@example.com")
    page = client.get(f"/customers/{ids[0]}").get_data(as_text=True)
    assert page.count("texted STOP/START") == 2 and "staff (lead@example.com)" in page

