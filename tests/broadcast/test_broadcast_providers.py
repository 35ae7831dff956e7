"""One broadcast through the real providers' protocols: email to an SMTP server on loopback (headers
checked), SMS through Twilio's REST API (via `responses`) with its delivery receipts, Slack's Web API
on a loopback server. Then the provider failures: a bounced address falls back, a 429 waits."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from incident import clock
from incident.extensions import db
from incident.outbox.channels import build_channels
from incident.outbox.models import Delivery

from ..helpers import add_customers, broadcast, declare, post, receipt, run_worker
from ..stand_ins import SLACK_TOKEN, TWILIO_SID


@pytest.fixture
def providers(app, smtp_server, twilio_api, slack_server):  # noqa: F811
    app.extensions["tocsin_channels"] = build_channels({
        "SMTP_HOST": smtp_server.host, "SMTP_PORT": smtp_server.port, "MAIL_FROM": "Status <status@tocsin.test>",
        "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": "secret", "TWILIO_FROM_NUMBER": "+15005550006",
        "TWILIO_API_URL": twilio_api.base_url, "SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_API_URL": slack_server.base_url})
    yield smtp_server, twilio_api, slack_server
    app.extensions.pop("tocsin_channels", None)


@pytest.fixture
def customers(app, api, frozen):
    incident = declare(api, services=["login"])
    ids = add_customers(
        app,
        {"name": "Carla Rossi", "email": "carla@example.com", "locale": "it", "channels": ["email"],
         "services": ["login"]},
        {"name": "Bruno", "phone": "+393471000002", "channels": ["sms"], "services": ["login"]},
        {"name": "Acme", "slack": "C0ACME", "channels": ["slack"], "segment": "enterprise", "services": ["login"]})
    return incident, ids


def test_an_apology_over_smtp_twilio_and_slack(app, api, providers, customers, hooks):  # noqa: F811
    smtp, twilio, slack = providers
    incident, (carla, bruno, acme) = customers
    assert broadcast(api, incident["id"]).status_code == 201
    run_worker(app)

    [mail] = smtp.received
    assert mail.rcpt_tos == ["carla@example.com"]
    email = mail.parse()
    assert "INC-1" in email["Subject"] or "Login" in email["Subject"]
    assert email["List-Unsubscribe"].startswith("<http") and "/unsubscribe/" in email["List-Unsubscribe"]
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert "Carla Rossi" in text and "Carla Rossi" in html
    assert "Ci scusiamo" in text or "scus" in text.lower()           # Italian, as Carla asked

    [sms_request] = twilio.requests
    form = twilio.form()
    assert form["To"] == "+393471000002" and form["From"] == "+15005550006"
    assert len(form["Body"]) <= 320

    [post_call] = slack.calls("chat.postMessage")
    assert post_call.params["channel"] == "C0ACME"
    blocks = post_call.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert blocks[0]["type"] == "header" and "Acme" in json.dumps(blocks)

    # Twilio's receipt moves Bruno's message to delivered; the broadcast's counts follow.
    with app.app_context():
        sid = db.session.scalar(select(Delivery.provider_id).where(Delivery.customer_id == bruno))
    assert post(hooks, "/twilio/status", receipt(sid, "delivered")).status_code == 200
    counts = api.get(f"/api/v1/incidents/{incident['id']}/broadcasts").get_json()[0]["counts"]
    assert counts["delivered"] == 1 and counts["sent"] == 2


def test_a_bounced_address_falls_back_and_a_429_waits(app, api, providers, customers):
    smtp, twilio, slack = providers
    incident, (carla, bruno, acme) = customers
    with app.app_context():
        from incident.customers.models import Customer

        db.session.get(Customer, carla).phone = "+393471000001"
        db.session.get(Customer, carla).channels = ["email", "sms"]
        db.session.commit()
    smtp.handler.reject_rcpt["carla@example.com"] = "550 5.1.1 no such user"
    slack.reply("chat.postMessage", status=429, body={"ok": False, "error": "ratelimited"},
                headers={"Retry-After": "30"})
    assert broadcast(api, incident["id"]).status_code == 201
    run_worker(app)

    with app.app_context():
        got = {c: (ch, s, e) for c, ch, s, e in db.session.execute(
            select(Delivery.customer_id, Delivery.channel, Delivery.status, Delivery.error)
            .where(Delivery.purpose == "broadcast"))}
    assert got[carla][:2] == ("sms", "sent") and "550" in got[carla][2]   # the bounce moved her to SMS
    assert sorted(twilio.form(i)["To"] for i in range(len(twilio.requests))) == ["+393471000001", "+393471000002"]
    assert got[acme][1] == "queued"                                       # Slack said wait 30 s
    clock.advance(seconds=29)
    run_worker(app)
    assert len(slack.calls("chat.postMessage")) == 1
    clock.advance(seconds=2)
    run_worker(app)
    assert len(slack.calls("chat.postMessage")) == 2
    with app.app_context():
        assert db.session.scalar(select(Delivery.status).where(Delivery.customer_id == acme)) == "sent"
    assert smtp.received == []


def test_an_sms_twilio_could_not_deliver_goes_out_by_email_once(app, api, providers, customers, hooks):  # noqa: F811
    """Twilio accepts the text, then reports it undelivered (30005, unknown handset): the same row
    moves to Bruno's next channel and the worker emails him; a late second receipt changes nothing."""
    smtp, twilio, slack = providers
    incident, (carla, bruno, acme) = customers
    with app.app_context():
        from incident.customers.models import Customer

        db.session.get(Customer, bruno).email = "bruno@example.com"
        db.session.get(Customer, bruno).channels = ["sms", "email"]
        db.session.commit()
    assert broadcast(api, incident["id"]).status_code == 201
    run_worker(app)
    with app.app_context():
        sid = db.session.scalar(select(Delivery.provider_id).where(Delivery.customer_id == bruno))
    assert sid and sid.startswith("SM")
    assert [m.rcpt_tos for m in smtp.received] == [["carla@example.com"]]

    assert post(hooks, "/twilio/status", receipt(sid, "undelivered", "30005")).status_code == 200
    with app.app_context():
        row = db.session.execute(select(Delivery.channel, Delivery.recipient, Delivery.status, Delivery.error)
                                 .where(Delivery.customer_id == bruno)).one()
    assert row[:3] == ("email", "bruno@example.com", "queued")
    assert "30005" in row.error and "trying email" in row.error
    run_worker(app)
    assert sorted(m.rcpt_tos[0] for m in smtp.received) == ["bruno@example.com", "carla@example.com"]
    assert post(hooks, "/twilio/status", receipt(sid, "failed", "30005")).status_code == 200
    run_worker(app)
    with app.app_context():
        rows = db.session.execute(select(Delivery.channel, Delivery.status).where(Delivery.customer_id == bruno)).all()
    assert rows == [("email", "sent")]
    assert len(smtp.received) == 2 and len(twilio.requests) == 1


def test_an_undelivered_sms_with_no_other_channel_fails_with_the_code(app, api, providers, customers, hooks):  # noqa: F811
    smtp, twilio, slack = providers
    incident, (carla, bruno, acme) = customers
    assert broadcast(api, incident["id"]).status_code == 201
    run_worker(app)
    with app.app_context():
        sid = db.session.scalar(select(Delivery.provider_id).where(Delivery.customer_id == bruno))
    assert post(hooks, "/twilio/status", receipt(sid, "undelivered", "30006")).status_code == 200
    run_worker(app)
    with app.app_context():
        row = db.session.execute(select(Delivery.channel, Delivery.status, Delivery.error)
                                 .where(Delivery.customer_id == bruno)).one()
    assert tuple(row) == ("sms", "failed", "30006")
    assert len(twilio.requests) == 1
