"""Outgoing webhooks: registration (and its SSRF checks), signed deliveries a third party's Standard
Webhooks library verifies, retries with backoff on the moved clock, the delivery log, test events,
deletion, and which changes become events."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from incident import clock
from incident.audit.models import AuditEntry
from incident.extensions import db
from incident.outbox.models import Delivery
from incident.webhooks import sender, targets
from incident.webhooks.models import WebhookMessage

from ..helpers import add_customers, declare, logged_in
from ..web_helpers import post_form

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def admin(api_as):
    return api_as("admin", "root@example.com")


@pytest.fixture
def private_ok(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE_TARGETS", True)


def register(admin, url, events=("incident.declared",), **extra):
    return admin.post("/api/v1/webhooks", json={"url": url, "events": list(events), **extra})


def queued(app, **where):
    with app.app_context():
        query = (select(WebhookMessage.event_type, Delivery.status, Delivery.text)
                 .join(Delivery, Delivery.id == WebhookMessage.delivery_id).order_by(WebhookMessage.id))
        for key, value in where.items():
            query = query.where(getattr(WebhookMessage, key) == value)
        return db.session.execute(query).all()


# Registration --------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]/hook", "http://10.1.2.3/hook",
    "https://192.168.0.10/hook", "http://172.16.5.4/hook", "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/hook", "http://[::ffff:127.0.0.1]/hook", "http://100.64.0.1/hook", "http://[fd00::1]/hook",
    "http://[fe80::1]/hook", "http://224.0.0.1/hook"])
def test_loopback_private_and_link_local_targets_are_refused(app, admin, url):
    response = register(admin, url)
    assert response.status_code == 422, url
    assert "WEBHOOKS_ALLOW_PRIVATE_TARGETS" in response.get_json()["error"]["details"]["url"]
    assert queued(app) == [] and admin.get("/api/v1/webhooks").get_json()["items"] == []


@pytest.mark.parametrize("url, reason", [
    ("ftp://hooks.example.com/x", "only http"), ("http://", "no host"), ("https:///path", "no host"),
    ("http://user:pw@93.184.216.34/", "no credentials"), ("http://93.184.216.34:99999/", "not a valid URL"),
    ("http://93.184.216.34/#frag", "no #fragment"), ("javascript:alert(1)//http://x", "only http")])
def test_malformed_urls_are_refused_with_the_reason(admin, url, reason):
    response = register(admin, url)
    assert response.status_code == 422
    assert reason in json.dumps(response.get_json()["error"])


def test_every_address_a_name_resolves_to_is_checked(admin, monkeypatch):
    monkeypatch.setattr(targets, "_resolve", lambda host, port: ["93.184.216.34", "10.0.0.7"])
    response = register(admin, "https://hooks.example.com/tocsin")
    assert response.status_code == 422 and "10.0.0.7" in response.get_json()["error"]["details"]["url"]
    monkeypatch.setattr(targets, "_resolve", lambda host, port: ["93.184.216.34", "2606:2800:220:1::248"])
    assert register(admin, "https://hooks.example.com/tocsin").status_code == 201


def test_a_name_that_does_not_resolve_is_refused(admin, monkeypatch):
    def nowhere(host, port):
        raise OSError("Name or service not known")

    monkeypatch.setattr(targets, "_resolve", nowhere)
    response = register(admin, "https://nowhere.invalid/hook")
    assert response.status_code == 422 and "does not resolve" in response.get_json()["error"]["details"]["url"]


def test_a_public_target_is_registered_with_a_secret_shown_once(app, admin):
    response = register(admin, "https://93.184.216.34/hook", ["incident.declared", "incident.resolved"],
                        description="PagerDuty bridge")
    assert response.status_code == 201
    body = response.get_json()
    assert body["secret"].startswith("whsec_") and Webhook(body["secret"])   # a key the library takes
    assert body["events"] == ["incident.declared", "incident.resolved"] and body["created_by"] == "root@example.com"
    listed = admin.get("/api/v1/webhooks").get_json()["items"]
    assert [w["id"] for w in listed] == [body["id"]] and "secret" not in listed[0]
    assert "secret" not in admin.get(f"/api/v1/webhooks/{body['id']}").get_json()
    with app.app_context():
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.kind == "webhook")).all()
        assert entry.actor == "root@example.com" and entry.after["url"] == "https://93.184.216.34/…"
        assert body["secret"] not in json.dumps([entry.before, entry.after])


@pytest.mark.parametrize("body, field", [
    ({"url": "https://93.184.216.34/h", "events": []}, "events"),
    ({"url": "https://93.184.216.34/h", "events": ["incident.exploded"]}, "events.0"),
    ({"url": "https://93.184.216.34/h", "events": ["incident.declared"], "secret": "hunter2"}, "secret"),
    ({"url": "https://93.184.216.34/h", "events": ["incident.declared"], "secret": "whsec_" + "A" * 16}, "secret"),
    ({"events": ["incident.declared"]}, "url")])
def test_bad_registrations_are_422(admin, body, field):
    response = admin.post("/api/v1/webhooks", json=body)
    assert response.status_code == 422 and field in response.get_json()["error"]["details"]


@pytest.mark.parametrize("role", ["viewer", "agent", "engineer", "lead"])
def test_only_admins_manage_webhooks(api_as, role):
    other = api_as(role)
    assert register(other, "https://93.184.216.34/hook").status_code == 403
    assert other.get("/api/v1/webhooks").status_code == 403
    assert other.post("/api/v1/webhooks/1/test").status_code == 403


def test_private_targets_are_allowed_when_configured(admin, private_ok):
    assert register(admin, "http://127.0.0.1:9/hook").status_code == 201


# Delivery ------------------------------------------------------------------------------------

def test_a_declared_incident_is_delivered_once_signed_as_standard_webhooks_says(app, admin, api, receiver,
                                                                                private_ok, caplog):
    caplog.set_level(logging.DEBUG)
    hook = register(admin, receiver.url, ["incident.declared"], secret=SECRET).get_json()
    incident = declare(api, title="Login failing")
    assert sender.dispatch_due(app) == 1
    assert sender.dispatch_due(app) == 0      # exactly once
    [request] = receiver.requests
    assert request.path == "/hooks/tocsin?token=abc"
    payload = Webhook(SECRET).verify(request.body, request.headers)   # the third party's verification
    assert payload["type"] == "incident.declared"
    assert payload["data"]["incident"]["id"] == incident["id"] and payload["data"]["actor"] == "lead@example.com"
    assert request.headers["webhook-id"].startswith("msg_") and request.headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(request.body, request.headers)   # another secret does not verify

    log = admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries").get_json()
    [item] = log["items"]
    assert item["status"] == "sent" and item["event_id"] == request.headers["webhook-id"]
    assert [(a["ok"], a["status_code"], a["error"]) for a in item["attempt_log"]] == [(True, 200, None)]
    assert item["attempt_log"][0]["duration_ms"] >= 0
    assert SECRET[6:] not in caplog.text   # the secret nowhere, even at DEBUG
    ours = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("incident"))
    assert "webhook 1 registered" in ours and "token=abc" not in ours and "/hooks/" not in ours   # only the origin


def test_failures_are_retried_with_backoff_on_the_moved_clock(app, admin, api, receiver, private_ok, frozen):
    hook = register(admin, receiver.url, ["incident.declared"], secret=SECRET).get_json()
    declare(api)
    receiver.statuses.extend([500, 503, 200])
    assert sender.dispatch_due(app) == 1                  # 500
    assert sender.dispatch_due(app) == 0                  # not due again yet
    clock.advance(seconds=4)
    assert sender.dispatch_due(app) == 0
    clock.advance(seconds=1)                              # 5 s after the first attempt
    assert sender.dispatch_due(app) == 1                  # 503
    clock.advance(seconds=9)
    assert sender.dispatch_due(app) == 0
    clock.advance(seconds=1)                              # 10 s after the second
    assert sender.dispatch_due(app) == 1                  # 200
    clock.advance(hours=1)
    assert sender.dispatch_due(app) == 0
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1 and len(receiver.requests) == 3
    wh = Webhook(SECRET)
    for r in receiver.requests:   # each attempt signed afresh with its own timestamp, as the library computes it
        at = datetime.fromtimestamp(int(r.headers["webhook-timestamp"]), tz=timezone.utc)
        assert r.headers["webhook-signature"] == wh.sign(r.headers["webhook-id"], at, r.body.decode())
    assert [int(r.headers["webhook-timestamp"]) - int(frozen.timestamp()) for r in receiver.requests] == [0, 5, 15]
    [item] = admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries").get_json()["items"]
    assert item["status"] == "sent" and item["attempts"] == 3
    assert [(a["status_code"], a["error"]) for a in item["attempt_log"]] == [(500, "HTTP 500"), (503, "HTTP 503"),
                                                                             (200, None)]


def test_no_answer_is_retried_and_eight_failures_are_final(app, admin, api, private_ok, frozen):
    from ..stand_ins import closed_port

    hook = register(admin, f"http://127.0.0.1:{closed_port()}/hook", ["incident.declared"]).get_json()
    declare(api)
    for _ in range(8):
        assert sender.dispatch_due(app) == 1
        clock.advance(minutes=11)
    assert sender.dispatch_due(app) == 0
    [item] = admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries").get_json()["items"]
    assert item["status"] == "failed" and item["attempts"] == 8
    assert {a["error"] for a in item["attempt_log"]} == {"ConnectionError"}


def test_a_redirect_is_not_followed(app, admin, api, receiver, private_ok):
    hook = register(admin, receiver.url).get_json()
    receiver.statuses.append(302)
    declare(api)
    sender.dispatch_due(app)
    [item] = admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries").get_json()["items"]
    assert item["status"] == "queued" and item["attempt_log"][0]["error"] == "HTTP 302"


def test_the_target_is_checked_again_at_send_time(app, admin, api, receiver, private_ok, monkeypatch):
    hook = register(admin, receiver.url).get_json()
    declare(api)
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)
    assert sender.dispatch_due(app) == 1
    assert receiver.requests == []
    [item] = admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries").get_json()["items"]
    assert item["status"] == "failed" and item["attempt_log"][0]["error"].startswith("target refused: 127.0.0.1")


def test_a_test_event_from_the_api(app, admin, receiver, private_ok):
    hook = register(admin, receiver.url, ["incident.resolved"], secret=SECRET).get_json()
    response = admin.post(f"/api/v1/webhooks/{hook['id']}/test")
    assert response.status_code == 202 and response.get_json()["event_type"] == "webhook.test"
    assert response.get_json()["status"] == "queued"
    sender.dispatch_due(app)
    payload = Webhook(SECRET).verify(receiver.requests[0].body, receiver.requests[0].headers)
    assert payload["type"] == "webhook.test" and payload["data"]["requested_by"] == "root@example.com"
    assert admin.post("/api/v1/webhooks/999/test").status_code == 404


def test_deleting_cancels_what_is_queued(app, admin, api, receiver, private_ok):
    hook = register(admin, receiver.url).get_json()
    declare(api)
    response = admin.delete(f"/api/v1/webhooks/{hook['id']}")
    assert response.get_json() == {"deleted": True, "cancelled": 1}
    assert sender.dispatch_due(app) == 0 and receiver.requests == []
    assert admin.get("/api/v1/webhooks").get_json()["items"] == []
    assert admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries").status_code == 404
    assert admin.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 404
    declare(api)
    assert [row.status for row in queued(app)] == ["cancelled"]   # nothing new for a deleted endpoint


def test_only_subscribed_events_are_queued_and_a_rolled_back_change_queues_nothing(app, admin, api, private_ok):
    register(admin, "http://127.0.0.1:9/a", ["incident.resolved"])
    register(admin, "http://127.0.0.1:9/b", ["incident.declared"])
    incident = declare(api)
    assert [r.event_type for r in queued(app)] == ["incident.declared"]
    bad = api.post(f"/api/v1/incidents/{incident['id']}/updates", json={"status": "sideways", "message": "x"})
    assert bad.status_code == 422 and len(queued(app)) == 1


def test_a_private_incident_sends_no_events(app, admin, api, private_ok):
    register(admin, "http://127.0.0.1:9/a", ["incident.declared", "incident.status_updated", "incident.resolved"])
    secret = declare(api, title="Credential stuffing", private=True)
    assert api.post(f"/api/v1/incidents/{secret['id']}/updates", json={"status": "resolved", "message": "x"}
                    ).status_code == 201
    assert queued(app) == []
    declare(api, title="Slow exports")
    assert [r.event_type for r in queued(app)] == ["incident.declared"]


# Which changes become events --------------------------------------------------------------------

def test_incident_escalation_broadcast_and_status_events(app, setup, api, private_ok):
    from incident.broadcast.service import prepare_due
    from incident.escalation.service import process_due

    everything = ["incident.declared", "incident.status_updated", "incident.resolved", "escalation.escalated",
                  "escalation.acknowledged", "escalation.breached", "broadcast.sent", "status.component_changed"]
    hook = register(setup, "http://127.0.0.1:9/all", everything).get_json()
    assert setup.post("/api/v1/status/components", json={"name": "Login", "service": "login"}).status_code == 201
    incident = declare(api, services=["login"])
    add_customers(app, {"name": "Ada", "email": "ada@example.com", "channels": ["email"], "services": ["login"]})
    iid = incident["id"]
    assert api.post(f"/api/v1/incidents/{iid}/escalate", json={"reason": "help"}).status_code == 200
    clock.advance(seconds=3601)
    with app.app_context():
        process_due()
    assert api.post(f"/api/v1/incidents/{iid}/updates", json={"status": "identified", "message": "Found it",
                                                              "public": True}).status_code == 201
    assert api.post(f"/api/v1/incidents/{iid}/broadcasts", json={"kind": "apology", "channels": ["email"],
                                                                 "audience": {"service_subscribers": True}}
                    ).status_code == 201
    with app.app_context():
        prepare_due()
    engineer = setup.__class__(setup.client, _token(app, "bob@example.com"), "bob@example.com")
    assert engineer.post(f"/api/v1/incidents/{iid}/acknowledge").status_code == 200
    assert api.post(f"/api/v1/incidents/{iid}/updates", json={"status": "resolved", "message": "Fixed",
                                                              "public": True}).status_code == 201
    rows = queued(app)
    kinds = [r.event_type for r in rows]
    assert set(kinds) == set(everything)
    assert kinds.index("incident.declared") < kinds.index("escalation.escalated") < kinds.index("escalation.breached")
    payloads = {r.event_type: json.loads(r.text) for r in rows}
    assert payloads["escalation.breached"]["data"]["details"]["level"] == "L1"
    assert payloads["escalation.acknowledged"]["data"]["actor"] == "bob@example.com"
    assert payloads["incident.resolved"]["data"]["incident"]["status"] == "resolved"
    component = [json.loads(r.text)["data"] for r in rows if r.event_type == "status.component_changed"]
    assert [c["status"] for c in component][-1] == "operational" and component[0]["component"]["name"] == "Login"
    assert component[0]["status"] != "operational"
    assert setup.get(f"/api/v1/webhooks/{hook['id']}/deliveries?per_page=500").get_json()["total"] == len(rows)


def _token(app, email):
    from incident.auth.service import create_token

    with app.app_context():
        return create_token(email)


# The page ------------------------------------------------------------------------------------------

def test_the_webhooks_page_registers_shows_the_secret_once_tests_and_deletes(app, client, make_user, receiver,
                                                                             private_ok):
    logged_in(client, make_user, role="admin", email="root@example.com")
    response = post_form(client, "/webhooks", {"url": receiver.url, "events": ["incident.declared", "broadcast.sent"],
                                               "description": "<i>ops</i>"}, page="/webhooks")
    html = response.get_data(as_text=True)
    assert response.status_code == 201 and 'id="secret-value">whsec_' in html and "&lt;i&gt;ops" in html
    secret = html.split('id="secret-value">', 1)[1].split("<", 1)[0]
    assert secret not in client.get("/webhooks").get_data(as_text=True)   # shown once
    with app.app_context():
        endpoint_id = db.session.scalar(select(WebhookMessage.endpoint_id)) or 1
    tested = post_form(client, f"/webhooks/{endpoint_id}/test", {}, page="/webhooks")
    assert tested.status_code == 302 and tested.headers["Location"].endswith(f"/webhooks/{endpoint_id}")
    sender.dispatch_due(app)
    assert Webhook(secret).verify(receiver.requests[0].body, receiver.requests[0].headers)["type"] == "webhook.test"
    log = client.get(f"/webhooks/{endpoint_id}").get_data(as_text=True)
    assert "webhook.test" in log and "200 ·" in log
    refused = post_form(client, "/webhooks", {"url": "ftp://x.example", "events": ["incident.declared"]},
                        page="/webhooks")
    assert refused.status_code == 422 and "only http" in refused.get_data(as_text=True)
    assert post_form(client, f"/webhooks/{endpoint_id}/delete", {}, page="/webhooks").status_code == 302
    assert 'data-webhook="' not in client.get("/webhooks").get_data(as_text=True)


def test_the_webhooks_page_is_for_admins(client, make_user):
    logged_in(client, make_user, role="lead", email="lea@example.com")
    assert client.get("/webhooks").status_code == 403


def test_a_broadcast_send_that_has_settled_is_announced_once(app, admin, api, receiver, private_ok, channels):
    from incident import worker
    from incident.broadcast.sender import dispatch_broadcasts
    from incident.broadcast.service import prepare_due

    register(admin, receiver.url, ["broadcast.completed"], secret=SECRET)
    incident = declare(api, services=["login"])
    add_customers(app, {"name": "Ada", "email": "ada@example.com", "channels": ["email"], "services": ["login"]},
                  {"name": "Bo", "phone": "+393471000002", "channels": ["sms"], "services": ["login"]})
    assert api.post(f"/api/v1/incidents/{incident['id']}/broadcasts", json={
        "kind": "status", "channels": ["email", "sms"], "audience": {"service_subscribers": True}}).status_code == 201
    with app.app_context():
        prepare_due()
    worker.webhooks(app)
    assert receiver.requests == []              # Ada's email is still queued
    dispatch_broadcasts(app)
    worker.webhooks(app)
    worker.webhooks(app)
    [request] = receiver.requests
    payload = Webhook(SECRET).verify(request.body, request.headers)
    assert payload["type"] == "broadcast.completed" and payload["data"]["incident"]["id"] == incident["id"]
    assert payload["data"]["broadcast"]["counts"] == {"sent": 1, "skipped": 1}   # SMS carries no status update


def test_an_address_that_changed_since_the_check_is_refused_once_connected(app, admin, api, receiver, monkeypatch):
    """A DNS answer that said "public" for the check and points at loopback for the connection."""
    monkeypatch.setattr(targets, "_resolve", lambda host, port: ["93.184.216.34"])
    port = receiver.server.server_address[1]
    hook = register(admin, f"http://localhost:{port}/hook").get_json()
    declare(api)
    assert sender.dispatch_due(app) == 1
    assert receiver.requests == []
    [item] = admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries").get_json()["items"]
    assert item["status"] == "failed"
    assert item["attempt_log"][0]["error"] == "target refused: connected to a loopback address (127.0.0.1)"


def test_the_outbox_page_shows_a_webhook_message_without_its_url(app, client, make_user, admin, api, private_ok):
    register(admin, "http://127.0.0.1:9/hooks?token=s3cret", ["incident.declared"], secret=SECRET)
    declare(api)
    logged_in(client, make_user, role="viewer", email="vi@example.com")
    page = client.get("/outbox")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "webhook 1" in html
    assert "s3cret" not in html and SECRET not in html and "127.0.0.1:9" not in html
