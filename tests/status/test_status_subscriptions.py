"""Self-service subscriptions: email double opt-in end to end through a real SMTP server on
loopback, SMS with a code, bad input, CSRF, rate limits, single-use and expiring confirmations."""
from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from incident import clock
from incident.customers.models import Customer
from incident.extensions import db
from incident.outbox.channels.email import SmtpEmail
from incident.outbox.channels.sandbox import SandboxChannel
from incident.outbox.dispatch import dispatch_due
from incident.status.models import StatusSubscription

from ..conftest import count_rows
from ..status_helpers import component, component_ids
from ..web_helpers import csrf_from

LINK_RE = re.compile(r"http://tocsin\.test(/status/subscribe/confirm/[A-Za-z0-9_-]+)")


@pytest.fixture
def components(api, frozen):
    component(api, "Login")
    component(api, "API", service="api")
    component(api, "Billing", service="billing")
    return component_ids(api)


@pytest.fixture
def smtp_channels(app, smtp_server):  # noqa: F811
    app.extensions["tocsin_channels"] = {
        "email": SmtpEmail(smtp_server.host, smtp_server.port, mail_from="status@tocsin.test", timeout=5),
        "sms": SandboxChannel("sms"), "slack": SandboxChannel("slack")}
    yield app.extensions["tocsin_channels"]
    app.extensions.pop("tocsin_channels", None)


def signup(client, **form):
    token = csrf_from(client, "/status/subscribe")
    return client.post("/status/subscribe", data={"csrf_token": token, **form})


def customer(app, **where):
    with app.app_context():
        row = db.session.scalar(select(Customer).where(*[getattr(Customer, k) == v for k, v in where.items()]))
        if row is None:
            return None
        return {"id": row.id, "email": row.email, "phone": row.phone, "locale": row.locale,
                "channels": row.channels, "opted_out": row.opted_out, "services": [s.name for s in row.services]}


def test_email_double_opt_in_through_a_real_smtp_server(app, client, components, smtp_server, smtp_channels):  # noqa: F811
    response = signup(client, channel="email", address="Mara@Example.com", lang="it",
                      components=[components["API"], components["Billing"]])
    assert response.status_code == 200 and "mara@example.com" in response.get_data(as_text=True)
    assert customer(app, email="mara@example.com") is None          # not before the link is followed
    assert dispatch_due(app) == 1
    [mail] = smtp_server.received
    message = mail.parse()
    assert mail.rcpt_tos == ["mara@example.com"] and "Conferma" in message["Subject"]
    path = LINK_RE.search(message.get_content()).group(1)

    page = client.get(path)
    assert page.status_code == 200 and 'method="post"' in page.get_data(as_text=True)
    assert customer(app, email="mara@example.com") is None          # a link scanner's GET confirms nothing
    done = client.post(path, data={"csrf_token": csrf_from(client, path)})
    assert done.status_code == 200 and "iscrizione è attiva" in done.get_data(as_text=True)
    mara = customer(app, email="mara@example.com")
    assert mara["services"] == ["api", "billing"] and mara["locale"] == "it"
    assert mara["channels"] == ["email"] and mara["opted_out"] == []

    assert client.get(path).status_code == 404                      # single use
    assert client.post(path, data={"csrf_token": csrf_from(client, "/status/subscribe")}).status_code == 404


def test_confirmation_link_expires(app, client, components, channels):
    signup(client, channel="email", address="late@example.com")
    dispatch_due(app)
    [(to, message)] = channels["email"].sent
    path = LINK_RE.search(message.text).group(1)
    clock.advance(hours=24, minutes=1)
    assert client.get(path).status_code == 404
    assert client.post(path, data={"csrf_token": csrf_from(client, "/status/subscribe")}).status_code == 404
    assert customer(app, email="late@example.com") is None


def test_sms_with_a_code_and_the_number_never_logged_in_full(app, client, components, channels, caplog):
    caplog.set_level(logging.INFO)
    response = signup(client, channel="sms", address="+39 347 123 4567", components=[components["Login"]])
    assert response.status_code == 303
    verify = response.headers["Location"]
    dispatch_due(app)
    [(to, message)] = channels["sms"].sent
    assert to == "+393471234567"
    code = re.search(r"\b(\d{6})\b", message.text).group(1)
    wrong = "000000" if code != "000000" else "111111"
    bad = client.post(verify, data={"csrf_token": csrf_from(client, verify), "code": wrong})
    assert bad.status_code == 422 and customer(app, phone="+393471234567") is None
    ok = client.post(verify, data={"csrf_token": csrf_from(client, "/status/subscribe"), "code": code})
    assert ok.status_code == 200
    bo = customer(app, phone="+393471234567")
    assert bo["services"] == ["login"] and bo["channels"] == ["sms"]
    assert client.get(verify).status_code == 404                    # single use
    assert "+393471234567" not in caplog.text and "4567" not in caplog.text


def test_a_wrong_code_five_times_kills_the_signup(app, client, components, channels):
    verify = signup(client, channel="sms", address="+393471234567").headers["Location"]
    dispatch_due(app)
    code = re.search(r"\b(\d{6})\b", channels["sms"].sent[0][1].text).group(1)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert client.post(verify, data={"csrf_token": csrf_from(client, "/status/subscribe"),
                                         "code": wrong}).status_code == 422
    assert client.post(verify, data={"csrf_token": csrf_from(client, "/status/subscribe"),
                                     "code": code}).status_code == 429
    assert customer(app, phone="+393471234567") is None


def test_existing_customer_keeps_what_they_had(app, client, components, channels):
    with app.app_context():
        db.session.add(Customer(email="old@example.com", name="Old", channels=["sms", "email"], opted_out=["email"],
                                phone="+393471234567"))
        db.session.commit()
    signup(client, channel="email", address="old@example.com", components=[components["Login"]])
    dispatch_due(app)
    path = LINK_RE.search(channels["email"].sent[0][1].text).group(1)
    client.post(path, data={"csrf_token": csrf_from(client, path)})
    old = customer(app, email="old@example.com")
    assert old["channels"] == ["email", "sms"] and old["opted_out"] == [] and old["services"] == ["login"]
    assert old["phone"] == "+393471234567"


@pytest.mark.parametrize("form", [
    {"channel": "email", "address": "not-an-address"},
    {"channel": "email", "address": "a@b"},
    {"channel": "email", "address": "x@example.com\r\nBcc: victim@example.com"},
    {"channel": "sms", "address": "12345"},
    {"channel": "sms", "address": "+39 abc"},
    {"channel": "fax", "address": "x@example.com"},
    {"channel": "email", "address": "x@example.com", "components": "999"},
    {"channel": "email", "address": "x@example.com", "components": "nope"},
])
def test_bad_input_is_refused_and_changes_nothing(app, client, components, form):
    response = signup(client, **form)
    assert response.status_code == 422
    assert count_rows(app, "status_subscriptions", "deliveries", "customers") == {
        "status_subscriptions": 0, "deliveries": 0, "customers": 0}


def test_csrf_is_required(app, client, components):
    response = client.post("/status/subscribe", data={"channel": "email", "address": "x@example.com"})
    assert response.status_code == 400
    assert count_rows(app, "status_subscriptions")["status_subscriptions"] == 0


def test_signups_are_rate_limited_per_address_and_per_client(app, client, components):
    for _ in range(3):
        assert signup(client, channel="email", address="spam@example.com").status_code == 200
    refused = signup(client, channel="email", address="spam@example.com")
    assert refused.status_code == 429
    clock.advance(hours=1, minutes=1)
    assert signup(client, channel="email", address="spam@example.com").status_code == 200
    for n in range(19):   # 20 in the last hour from this client
        assert signup(client, channel="email", address=f"a{n}@example.com").status_code == 200
    assert signup(client, channel="email", address="another@example.com").status_code == 429
    with app.app_context():
        assert db.session.scalar(select(StatusSubscription).where(
            StatusSubscription.address == "another@example.com")) is None


def sms_signups(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(StatusSubscription.address).where(StatusSubscription.channel == "sms")
                                       .order_by(StatusSubscription.id)))


def test_sms_signups_are_limited_per_number_prefix_per_day(app, client, components, monkeypatch):
    """Against SMS pumping: a run of numbers in one range (here +39 347 1…) costs one texts' worth a day."""
    monkeypatch.setitem(app.config, "STATUS_SMS_SIGNUPS_PER_PREFIX_PER_DAY", 3)
    for n in range(3):
        assert signup(client, channel="sms", address=f"+39347100000{n}").status_code == 303
    refused = signup(client, channel="sms", address="+393471999999", lang="en")
    assert refused.status_code == 429
    assert "Too many SMS sign-ups for numbers like this one today" in refused.get_data(as_text=True)
    assert signup(client, channel="sms", address="+393481000000").status_code == 303   # another range
    assert signup(client, channel="email", address="mara@example.com").status_code == 200
    clock.advance(hours=23, minutes=59)
    assert signup(client, channel="sms", address="+393471999999").status_code == 429
    clock.advance(minutes=2)   # a day after the first three
    assert signup(client, channel="sms", address="+393471999999").status_code == 303
    assert sms_signups(app) == ["+393471000000", "+393471000001", "+393471000002", "+393481000000",
                                "+393471999999"]
    assert count_rows(app, "deliveries")["deliveries"] == 6   # five codes and one link: none for the refused


def test_sms_signups_are_limited_per_day_altogether(app, client, components, monkeypatch):
    monkeypatch.setitem(app.config, "STATUS_SMS_SIGNUPS_PER_DAY", 4)
    monkeypatch.setitem(app.config, "STATUS_SIGNUPS_PER_CLIENT_PER_HOUR", 100)
    numbers = ["+393201234567", "+393331234567", "+393401234567", "+393471234567", "+393491234567"]
    for number in numbers[:4]:
        assert signup(client, channel="sms", address=number).status_code == 303
        clock.advance(hours=2)
    refused = signup(client, channel="sms", address=numbers[4], lang="it")
    assert refused.status_code == 429
    assert "Le iscrizioni via SMS sono sospese per oggi" in refused.get_data(as_text=True)
    assert signup(client, channel="email", address="mara@example.com").status_code == 200   # email still works
    clock.advance(hours=17)   # 24 hours after the first one: one place free again
    assert signup(client, channel="sms", address=numbers[4]).status_code == 303
    assert signup(client, channel="sms", address="+393481234567").status_code == 429
    assert sms_signups(app) == numbers


def test_the_sms_prefix_is_the_numbers_first_six_digits():
    from incident.status.subscriptions import sms_prefix

    assert sms_prefix("+393471234567") == "+393471"
    assert sms_prefix("+14155550123") == "+141555"


def test_unknown_token_and_handle(client, components):
    assert client.get("/status/subscribe/confirm/nope").status_code == 404
    assert client.get("/status/subscribe/verify/nope").status_code == 404


def test_subscribe_page_is_never_cached_and_lists_components(client, components):
    response = client.get("/status/subscribe?lang=it")
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert "Billing" in text and "Iscriviti" in text and 'name="csrf_token"' in text
