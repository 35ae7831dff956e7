"""Customer broadcasts end to end on the sandbox channels: one message per customer per send, on their
channel, in their language; cadence, cancel, edit, fall-back, opt-out, reminders, bad input."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from incident import clock
from incident.broadcast import reminders
from incident.broadcast.models import BroadcastSend
from incident.broadcast.sender import Pace, dispatch_broadcasts
from incident.broadcast.service import prepare_due
from incident.config import parse_rates
from incident.customers.models import Customer
from incident.extensions import db
from incident.outbox.channels import SendResult
from incident.outbox.models import Delivery

from ..conftest import count_rows
from ..helpers import broadcast, run_worker


def rows(app, **where):
    with app.app_context():
        query = select(Delivery.customer_id, Delivery.channel, Delivery.status, Delivery.error).where(
            Delivery.purpose == "broadcast").order_by(Delivery.customer_id, Delivery.id)
        for key, value in where.items():
            query = query.where(getattr(Delivery, key) == value)
        return db.session.execute(query).all()


def all_sent(channels) -> list[tuple[str, str, object]]:
    return [(name, to, message) for name, channel in channels.items() for to, message in channel.sent]






def test_an_apology_reaches_each_customer_once_on_their_channel_in_their_language(app, api, crowd, channels):
    incident, (ada, bruno, acme, carla, dev, elsewhere) = crowd
    response = broadcast(api, incident["id"])
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "scheduled"
    with app.app_context():
        assert prepare_due() == 1
    assert api.get(f"/api/v1/broadcasts/{response.get_json()['id']}").get_json()["status"] == "sending"
    run_worker(app)

    assert [(c, ch, s) for c, ch, s, _ in rows(app)] == [
        (ada, "email", "sent"), (bruno, "sms", "sent"), (acme, "slack", "sent"), (carla, "email", "sent"),
        (dev, "sms", "sent")]  # Dev said STOP to email; Elsewhere subscribes to another service
    sent = all_sent(channels)
    assert sorted(to for _, to, _ in sent) == sorted(["ada@example.com", "+393471000002", "C0ACME",
                                                      "carla@example.com", "+393471000005"])
    by_to = {to: message for _, to, message in sent}
    assert "Carla" in by_to["carla@example.com"].text and "Ada" in by_to["ada@example.com"].text
    assert by_to["carla@example.com"].subject != by_to["ada@example.com"].subject  # Italian vs English
    assert "/unsubscribe/" in by_to["ada@example.com"].headers["List-Unsubscribe"]
    assert by_to["ada@example.com"].headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The worker again, and again after the lease: nobody gets a second copy.
    run_worker(app)
    clock.advance(minutes=10)
    run_worker(app)
    assert len(all_sent(channels)) == 5
    listed = api.get(f"/api/v1/incidents/{incident['id']}/broadcasts").get_json()
    assert listed[0]["status"] == "done"
    assert listed[0]["counts"]["sent"] == 5 and listed[0]["counts"]["queued"] == 0


def test_enterprise_customers_are_queued_first(app, api, crowd, channels):
    incident, (ada, bruno, acme, *_rest) = crowd
    broadcast(api, incident["id"])
    with app.app_context():
        prepare_due()
        first = db.session.scalar(select(Delivery.customer_id).where(Delivery.purpose == "broadcast")
                                  .order_by(Delivery.next_attempt_at, Delivery.id).limit(1))
    assert first == acme


def test_a_plain_status_update_skips_sms_only_customers_with_the_reason(app, api, crowd, channels):
    incident, (ada, bruno, acme, carla, dev, _) = crowd
    assert broadcast(api, incident["id"], kind="status").status_code == 201
    run_worker(app)
    got = {c: (ch, s, e) for c, ch, s, e in rows(app)}
    assert got[bruno][1] == "skipped" and "milestones" in got[bruno][2]
    assert got[dev][1] == "skipped"   # email opted out, SMS not for plain updates
    assert got[ada] == ("email", "sent", None)
    assert len(channels["sms"].sent) == 0
    # Marked important, SMS carries it.
    assert broadcast(api, incident["id"], kind="status", important=True).status_code == 201
    run_worker(app)
    assert sorted(to for to, _ in channels["sms"].sent) == ["+393471000002", "+393471000005"]


class FailingFor:
    """A channel that fails for some addresses, for good or for now, and sends the rest to a sandbox."""

    sandbox = True

    def __init__(self, inner, *, permanent=(), transient=()):
        self.inner, self.permanent, self.transient = inner, set(permanent), dict.fromkeys(transient, 1)
        self.name = inner.name

    def send(self, to, message):
        if to in self.permanent:
            return SendResult(ok=False, error="550 mailbox unavailable")
        if self.transient.get(to):
            self.transient[to] -= 1
            return SendResult(ok=False, error="451 try later", retryable=True)
        return self.inner.send(to, message)


def test_a_permanent_failure_moves_to_the_next_preferred_channel(app, api, crowd, channels):
    incident, (ada, *_rest) = crowd
    email = channels["email"]
    app.extensions["tocsin_channels"]["email"] = FailingFor(email, permanent={"ada@example.com"})
    broadcast(api, incident["id"])
    run_worker(app)
    got = {c: (ch, s, e) for c, ch, s, e in rows(app)}
    assert got[ada][:2] == ("sms", "sent")
    assert "email: 550" in got[ada][2]
    assert [to for to, _ in channels["sms"].sent].count("+393471000001") == 1
    assert [to for to, _ in email.sent].count("ada@example.com") == 0


def test_a_transient_failure_is_retried_later_and_sent_once(app, api, crowd, channels):
    incident, (ada, *_rest) = crowd
    email = channels["email"]
    app.extensions["tocsin_channels"]["email"] = FailingFor(email, transient={"ada@example.com"})
    broadcast(api, incident["id"])
    run_worker(app)
    assert {c: s for c, _, s, _ in rows(app)}[ada] == "queued"
    run_worker(app)  # not due yet: backoff
    assert [to for to, _ in email.sent].count("ada@example.com") == 0
    clock.advance(seconds=6)
    run_worker(app)
    assert {c: s for c, _, s, _ in rows(app)}[ada] == "sent"
    assert [to for to, _ in email.sent].count("ada@example.com") == 1


def test_a_cadence_sends_every_thirty_minutes_until_resolved(app, api, crowd, channels):
    incident, _ = crowd
    response = broadcast(api, incident["id"], kind="status", channels=["email"], repeat_every_minutes=30)
    assert response.status_code == 201, response.get_json()
    run_worker(app)
    first = len(channels["email"].sent)
    assert first == 3  # Ada, Acme (email is the only channel allowed), Carla
    body = api.get(f"/api/v1/broadcasts/{response.get_json()['id']}").get_json()
    assert body["next_send_at"] == "2026-11-22T09:30:00+00:00"
    assert "09:30 UTC" in channels["email"].sent[0][1].text, channels["email"].sent[0][1].text  # promises the next

    clock.advance(minutes=29)
    run_worker(app)
    assert len(channels["email"].sent) == first
    clock.advance(minutes=1)
    run_worker(app)
    assert len(channels["email"].sent) == 2 * first

    assert api.post(f"/api/v1/incidents/{incident['id']}/updates",
                    json={"status": "resolved", "message": "fixed"}).status_code in (200, 201)
    clock.advance(minutes=30)
    run_worker(app)
    assert len(channels["email"].sent) == 2 * first
    assert api.get(f"/api/v1/broadcasts/{response.get_json()['id']}").get_json()["status"] == "done"


def test_cancel_and_edit_before_it_goes(app, api, crowd, channels):
    incident, _ = crowd
    later = broadcast(api, incident["id"], send_at="2026-11-22T10:00:00+00:00").get_json()
    edited = api.patch(f"/api/v1/broadcasts/{later['id']}", json={"message": "Logins fail for EU users only."})
    assert edited.status_code == 200, edited.get_json()
    cancelled = broadcast(api, incident["id"], kind="status", send_at="2026-11-22T10:00:00+00:00").get_json()
    response = api.delete(f"/api/v1/broadcasts/{cancelled['id']}")
    assert response.status_code == 200 and response.get_json()["cancelled_sends"] == 1
    assert api.delete(f"/api/v1/broadcasts/{cancelled['id']}").status_code == 409

    run_worker(app)
    assert all_sent(channels) == []
    clock.advance(hours=1)
    run_worker(app)
    assert len(all_sent(channels)) == 5
    assert all("Logins fail for EU users only." in message.text for _, _, message in all_sent(channels))
    assert api.patch(f"/api/v1/broadcasts/{later['id']}", json={"message": "too late"}).status_code == 409


def test_a_customer_who_opts_out_after_queuing_is_skipped(app, api, crowd, channels):
    incident, (ada, *_rest) = crowd
    broadcast(api, incident["id"])
    with app.app_context():
        prepare_due()
        db.session.get(Customer, ada).opted_out = ["email"]
        db.session.commit()
    dispatch_broadcasts(app)
    got = {c: (ch, s, e) for c, ch, s, e in rows(app)}
    assert got[ada][1] == "skipped" and "opted out" in got[ada][2]
    assert "ada@example.com" not in [to for to, _ in channels["email"].sent]


def test_the_unsubscribe_link_asks_then_takes_them_off_email(app, api, client, crowd, channels):
    incident, (ada, *_rest) = crowd
    broadcast(api, incident["id"])
    run_worker(app)
    link = channels["email"].messages_to("ada@example.com")[0].headers["List-Unsubscribe"].strip("<>")
    path = link[link.index("/unsubscribe/"):]
    page = client.get(path)
    assert page.status_code == 200 and b"unsubscribe" in page.data.lower()
    with app.app_context():
        assert db.session.get(Customer, ada).opted_out == []   # a link scanner's GET changes nothing
    one_click = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    with app.app_context():
        assert db.session.get(Customer, ada).opted_out == ["email"]
    assert client.get(path[:-3] + "xyz").status_code == 404   # a forged token
    assert client.post(path[:-3] + "xyz").status_code == 404

    broadcast(api, incident["id"])
    run_worker(app)
    assert len(channels["email"].messages_to("ada@example.com")) == 1
    assert len(channels["sms"].messages_to("+393471000001")) == 1  # her next preferred channel

    client.post(path, data={"action": "resume"})
    with app.app_context():
        assert db.session.get(Customer, ada).opted_out == []


@pytest.mark.parametrize("body, status, code", [
    ({"channels": []}, 422, "validation_error"),
    ({"channels": ["fax"]}, 422, "validation_error"),
    ({"kind": "sorry"}, 422, "validation_error"),
    ({"audience": {}}, 422, "validation_error"),
    ({"audience": {"segments": ["nobody"]}}, 422, "empty_audience"),
    ({"send_at": "2026-11-22T08:00:00+00:00"}, 422, "validation_error"),
    ({"send_at": "2026-11-22T10:00:00"}, 422, "validation_error"),   # no offset
    ({"kind": "apology", "repeat_every_minutes": 30}, 422, "validation_error"),
    ({"repeat_every_minutes": 1, "kind": "status"}, 422, "validation_error"),
    ({"surprise": 1}, 422, "validation_error"),
])
def test_bad_broadcasts_are_refused_and_nothing_is_scheduled(app, api, crowd, body, status, code):
    incident, _ = crowd
    response = broadcast(api, incident["id"], **body)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert count_rows(app, "broadcasts", "broadcast_sends") == {"broadcasts": 0, "broadcast_sends": 0}


def test_unknown_and_resolved_incidents_and_permissions(app, api, api_as, crowd):
    incident, _ = crowd
    assert broadcast(api, 999).status_code == 404
    assert broadcast(api_as("agent"), incident["id"]).status_code == 403
    assert api.post(f"/api/v1/incidents/{incident['id']}/broadcasts", data="{}").status_code == 415
    api.post(f"/api/v1/incidents/{incident['id']}/updates", json={"status": "resolved", "message": "fixed"})
    response = broadcast(api, incident["id"], kind="status")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "incident_resolved"
    assert count_rows(app, "broadcasts")["broadcasts"] == 0
    assert broadcast(api, incident["id"], kind="resolution").status_code == 201


def test_a_broken_template_stops_the_broadcast_at_the_door(app, api, crowd):
    from incident.broadcast.models import MessageTemplate

    incident, _ = crowd
    with app.app_context():   # as if saved before validation existed
        db.session.add(MessageTemplate(kind="apology", channel="sms", locale="it", subject="",
                                       body="{{ incident.nonexistent_field }}"))
        db.session.commit()
    response = broadcast(api, incident["id"])
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "template_error"
    assert "sms.it" in response.get_json()["error"]["details"]
    assert count_rows(app, "broadcasts")["broadcasts"] == 0


def test_customer_text_cannot_break_a_message(app, api, crowd, channels):
    incident, (ada, *_rest) = crowd
    with app.app_context():
        db.session.get(Customer, ada).name = "<script>alert(1)</script> {{ 7*7 }} &"
        db.session.commit()
    broadcast(api, incident["id"], message="Our <b>login</b> is {{ down }}")
    run_worker(app)
    email = channels["email"].messages_to("ada@example.com")[0]
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert "{{ 7*7 }}" in email.text and "49" not in email.text
    assert "Our <b>login</b> is {{ down }}" in email.text and "<b>login</b>" not in email.html


def test_preview_shows_every_channel_in_every_locale(app, api, crowd):
    incident, _ = crowd
    response = api.post(f"/api/v1/incidents/{incident['id']}/broadcasts/preview",
                        json={"kind": "apology", "channels": ["email", "sms", "slack"],
                              "audience": {"service_subscribers": True}})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["audience"] == 5
    messages = body["messages"]
    assert set(messages) == {"email", "sms", "slack"}
    assert set(messages["sms"]) == {"en", "it", "fr", "de", "es"}
    assert messages["sms"]["en"]["sms"]["segments"] >= 1
    assert messages["email"]["it"]["subject"] != messages["email"]["en"]["subject"]
    for locale in ("en", "it"):   # the incident's own facts are in every message
        assert "INC-1" in messages["email"][locale]["subject"] + messages["email"][locale]["text"]
        assert "Login failing" in messages["email"][locale]["text"]
    assert count_rows(app, "broadcasts")["broadcasts"] == 0


def test_the_communications_role_is_reminded_once_when_a_promised_update_is_due(app, api, crowd, make_user, channels):
    incident, _ = crowd
    make_user("comms@example.com", role="agent", slack_id="UCOMMS")
    assert api.put(f"/api/v1/incidents/{incident['id']}/roles/communications",
                   json={"user": "comms@example.com"}).status_code == 200
    broadcast(api, incident["id"], kind="status", next_update_minutes=30)
    run_worker(app)
    with app.app_context():
        assert reminders.remind_due() == 0
    clock.advance(minutes=19)
    with app.app_context():
        assert reminders.remind_due() == 0
    clock.advance(minutes=1)
    with app.app_context():
        assert reminders.remind_due() == 1
        assert reminders.remind_due() == 0
        reminder = db.session.execute(select(Delivery.channel, Delivery.recipient, Delivery.text)
                                      .where(Delivery.purpose == "reminder")).one()
    assert reminder[:2] == ("slack", "UCOMMS") and "09:30 UTC" in reminder[2]
    kinds = [e["kind"] for e in api.get(f"/api/v1/incidents/{incident['id']}/timeline").get_json()["items"]]
    assert "update_due" in kinds


def test_no_reminder_when_the_next_update_is_scheduled(app, api, crowd, channels):
    incident, _ = crowd
    broadcast(api, incident["id"], kind="status", next_update_minutes=30)
    run_worker(app)
    broadcast(api, incident["id"], kind="status", send_at="2026-11-22T09:30:00+00:00")
    clock.advance(minutes=25)
    with app.app_context():
        assert reminders.remind_due() == 0


def test_deliveries_are_listed_with_reasons(app, api, crowd, channels):
    incident, (ada, bruno, *_rest) = crowd
    created = broadcast(api, incident["id"], kind="status").get_json()
    run_worker(app)
    listed = api.get(f"/api/v1/broadcasts/{created['id']}/deliveries?status=skipped").get_json()
    assert listed["total"] == 2
    assert {item["customer"] for item in listed["items"]} == {"Bruno", "Dev"}
    assert all(item["reason"] for item in listed["items"])
    assert api.get("/api/v1/broadcasts/999/deliveries").status_code == 404


def test_rate_limits_parse_and_pace():
    assert parse_rates("sms=5, email=200")["sms"] == 5.0
    assert parse_rates("")["email"] == 50.0
    with pytest.raises(ValueError):
        parse_rates("fax=3")
    with pytest.raises(ValueError):
        parse_rates("sms=fast")
    now, slept = [100.0], []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    pace = Pace(10, now=lambda: now[0], sleep=sleep)
    for _ in range(30):
        pace.wait()
    # A first second's burst, then one every tenth of a second: 30 starts take about two seconds.
    assert 1.8 <= now[0] - 100.0 <= 2.1


def test_a_send_that_cannot_be_prepared_fails_alone_and_the_others_go(app, api, crowd, channels):
    """A template edit that breaks on this incident's data must not stop every other broadcast."""
    from incident.broadcast.models import MessageTemplate

    incident, _ = crowd
    poisoned = broadcast(api, incident["id"], kind="status", channels=["email"]).get_json()
    healthy = broadcast(api, incident["id"], kind="apology", channels=["sms"]).get_json()
    with app.app_context():   # as if saved when the sample data happened to pass
        db.session.add(MessageTemplate(kind="status", channel="email", locale="en", subject="x",
                                       body="{{ incident.services[5] }}"))
        db.session.commit()
    run_worker(app)
    with app.app_context():
        statuses = dict(db.session.execute(select(BroadcastSend.broadcast_id, BroadcastSend.status)).all())
    assert statuses == {poisoned["id"]: "failed", healthy["id"]: "queued"}
    assert sorted(to for to, _ in channels["sms"].sent) == ["+393471000001", "+393471000002", "+393471000005"]
    events = api.get(f"/api/v1/incidents/{incident['id']}/timeline?per_page=500").get_json()["items"]
    failed = [e for e in events if e["kind"] == "broadcast_failed"]
    assert len(failed) == 1 and failed[0]["data"]["broadcast"] == poisoned["id"]


def test_a_broadcast_still_going_out_can_be_cancelled_and_in_flight_retries_stop(app, api, crowd, channels):
    incident, (ada, *_rest) = crowd
    created = broadcast(api, incident["id"], channels=["email"]).get_json()
    with app.app_context():
        prepare_due()
    # Ada's message is in flight (claimed) when the lead cancels; the provider then says "try later".
    email = channels["email"]
    app.extensions["tocsin_channels"]["email"] = FailingFor(email, transient={"ada@example.com"})
    with app.app_context():
        db.session.execute(Delivery.__table__.update().where(Delivery.customer_id == ada).values(status="sending"))
        db.session.commit()
    response = api.delete(f"/api/v1/broadcasts/{created['id']}")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["cancelled_messages"] == 2          # Acme and Carla had not gone out
    from incident.broadcast.sender import Job, Sender
    sender = Sender(app, threads=1)
    with app.app_context():
        row = db.session.execute(select(Delivery.id, Delivery.send_id).where(Delivery.customer_id == ada)).one()
        sender.channels = app.extensions["tocsin_channels"]
        sender.record([(Job(row.id, "email", "ada@example.com", 1, None, ["sms"], {"sms": "+393471000001"},
                            row.send_id, "en"), SendResult(ok=False, error="451 try later", retryable=True))])
    sender.close()
    clock.advance(hours=1)
    run_worker(app)
    assert len(email.sent) == len(channels["sms"].sent) == 0
    assert {c: s for c, _, s, _ in rows(app)}[ada] == "cancelled"
    assert {s for _, _, s, _ in rows(app)} == {"cancelled", "skipped"}  # skipped: Bruno (no email), Dev (opted out)
    assert api.delete(f"/api/v1/broadcasts/{created['id']}").status_code == 409


def test_a_null_audience_in_an_edit_changes_nothing(app, api, crowd):
    incident, _ = crowd
    created = broadcast(api, incident["id"], send_at="2026-11-22T10:00:00+00:00").get_json()
    response = api.patch(f"/api/v1/broadcasts/{created['id']}", json={"audience": None, "message": "new"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["audience"] == created["audience"] and response.get_json()["message"] == "new"


@pytest.mark.parametrize("method, path, body", [
    ("patch", "/api/v1/broadcasts/{b}", {}),
    ("patch", "/api/v1/broadcasts/{b}", {"send_at": "9999-12-31T23:00:00-05:00"}),
    ("post", "/api/v1/incidents/{i}/broadcasts", {"kind": "apology", "channels": ["email"],
                                                  "send_at": "9999-12-31T23:00:00-05:00"}),
    ("post", "/api/v1/incidents/{i}/broadcasts", {"kind": "apology", "channels": ["email"], "message": "a\u0000b"}),
    ("get", "/api/v1/broadcasts/99999999999999999999999", None),
    ("get", "/api/v1/incidents/99999999999999999999999/broadcasts", None),
    ("get", "/api/v1/broadcasts/{b}/deliveries?page=100000000000000000000", None),
])
def test_odd_input_is_a_4xx_never_a_500(app, api, crowd, method, path, body):
    incident, _ = crowd
    created = broadcast(api, incident["id"], send_at="2026-11-22T10:00:00+00:00").get_json()
    response = getattr(api, method)(path.format(b=created["id"], i=incident["id"]),
                                    **({"json": body} if body is not None else {}))
    assert 400 <= response.status_code < 500, response.get_json()
    assert count_rows(app, "broadcasts")["broadcasts"] == 1
    assert api.get(f"/api/v1/broadcasts/{created['id']}").get_json()["audience"] == {
        "linked_requesters": False, "service_subscribers": True, "segments": []}


def test_a_costly_template_already_stored_is_refused_at_the_door_and_fails_its_send_with_the_reason(
        app, api, crowd, channels):
    """A template that would loop for minutes (saved before the limits existed) stops cleanly: the API
    refuses a new broadcast with the reason, a send already scheduled fails with it, and the worker
    goes on with the other sends."""
    from incident.broadcast.models import MessageTemplate

    incident, _ = crowd
    costly = broadcast(api, incident["id"], kind="status", channels=["email"]).get_json()
    healthy = broadcast(api, incident["id"], kind="apology", channels=["sms"]).get_json()
    with app.app_context():
        db.session.add(MessageTemplate(kind="status", channel="email", locale="en", subject="x", body=(
            "{% for a in 'x' * 5000 %}{% for b in 'x' * 5000 %}{% endfor %}{% endfor %}Hello")))
        db.session.commit()
    response = broadcast(api, incident["id"], kind="status", channels=["email"])
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "template_error"
    assert "loops would run more than 10,000 times" in response.get_json()["error"]["details"]["email.en"]
    run_worker(app)
    with app.app_context():
        statuses = dict(db.session.execute(select(BroadcastSend.broadcast_id, BroadcastSend.status)).all())
    assert statuses == {costly["id"]: "failed", healthy["id"]: "queued"}
    assert len(channels["sms"].sent) == 3
    events = api.get(f"/api/v1/incidents/{incident['id']}/timeline?per_page=500").get_json()["items"]
    failed = [e for e in events if e["kind"] == "broadcast_failed"]
    assert "loops would run more than 10,000 times" in failed[0]["data"]["reason"]
