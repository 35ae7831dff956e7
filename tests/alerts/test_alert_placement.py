"""Where alerts go: the possible-outage box by service, the open incident of their service (one
timeline event per alert), resolved alerts noted and cleared, and declaring from the box."""
from __future__ import annotations

from incident import clock
from incident.alerts.box import possible_outages

from ..helpers import declare, logged_in
from ..web_helpers import post_form
from .support import alert, events, notification, send, token_for


def _box(app):
    with app.app_context():
        return {(g.service, g.alerts) for g in possible_outages()}


def test_alerts_without_an_incident_group_by_service_in_the_possible_outage_box(app, client, make_user):
    token = token_for(app)
    body = notification(alert("HighErrorRate", service="login", fingerprint="1000000000000001", severity="critical"),
                        alert("HighLatency", service="Login", fingerprint="1000000000000002"),
                        alert("DiskFull", service="billing", fingerprint="1000000000000003"),
                        alert("Watchdog", fingerprint="1000000000000004"))
    response = send(client, token, body)
    assert response.get_json() == {"alerts": 4, "attached_to": [], "signals": 3}
    assert _box(app) == {("login", 2), ("billing", 1), (None, 1)}

    logged_in(client, make_user, role="lead")
    page = client.get("/").get_data(as_text=True)
    assert 'id="possible-outages"' in page
    assert 'data-alerts="login"' in page and "2 firing: HighErrorRate, HighLatency" in page
    assert "critical, warning" in page
    assert 'data-alerts="billing"' in page and "no service label" in page
    assert "Declare and attach 2" in page


def test_an_alert_for_a_service_with_an_open_incident_attaches_to_its_timeline_once(app, client, api):
    incident = declare(api, services=["login"], severity="SEV2")
    declare(api, services=["billing"], title="Billing slow")
    token = token_for(app)
    firing = alert("HighErrorRate", service="login", fingerprint="2000000000000001", severity="critical")
    for _ in range(3):   # Alertmanager repeats a firing alert every repeat_interval
        response = send(client, token, notification(firing))
        assert response.get_json() == {"alerts": 1, "attached_to": [incident["id"]], "signals": 0}
    (kind, data), = events(app, incident["id"])
    assert kind == "alert_attached"
    assert (data["alert"], data["fingerprint"], data["service"], data["severity"], data["source"]) == (
        "HighErrorRate", "2000000000000001", "login", "critical", "prod")
    assert data["summary"] == "HighErrorRate is failing"
    assert _box(app) == set()
    timeline = api.get(f"/api/v1/incidents/{incident['id']}/timeline").get_json()["items"]
    assert [e["kind"] for e in timeline].count("alert_attached") == 1
    assert timeline[-1]["actor"] == "alertmanager:prod"


def test_the_most_severe_open_incident_of_the_service_gets_the_alert(app, client, api):
    declare(api, services=["login"], severity="SEV3", title="Login slow")
    worst = declare(api, services=["login", "api"], severity="SEV1")
    declare(api, services=["login"], severity="SEV2", title="Login flaky")
    response = send(client, token_for(app), notification(alert("Down", service="login", fingerprint="2100000000000001")))
    assert response.get_json()["attached_to"] == [worst["id"]]


def test_a_resolved_alert_is_noted_on_its_incident_once(app, client, api):
    incident = declare(api, services=["login"])
    token = token_for(app)
    send(client, token, notification(alert("HighErrorRate", service="login", fingerprint="3000000000000001")))
    resolved = alert("HighErrorRate", service="login", fingerprint="3000000000000001", status="resolved")
    for _ in range(2):
        response = send(client, token, notification(resolved))
        assert response.get_json() == {"alerts": 1, "attached_to": [incident["id"]], "signals": 0}
    assert [kind for kind, _ in events(app, incident["id"])] == ["alert_attached", "alert_resolved"]
    assert events(app, incident["id"])[1][1]["ends_at"] == "2026-11-22T09:30:00+00:00"
    # firing again later is news again: one event, not one per repeat
    again = alert("HighErrorRate", service="login", fingerprint="3000000000000001", starts_at="2026-11-22T10:00:00Z")
    send(client, token, notification(again))
    send(client, token, notification(again))
    assert [kind for kind, _ in events(app, incident["id"])] == ["alert_attached", "alert_resolved", "alert_refired"]


def test_a_resolved_alert_leaves_the_possible_outage_box(app, client, make_user):
    token = token_for(app)
    send(client, token, notification(alert("DiskFull", service="billing", fingerprint="4000000000000001"),
                                     alert("DiskSlow", service="billing", fingerprint="4000000000000002")))
    assert _box(app) == {("billing", 2)}
    response = send(client, token, notification(alert("DiskFull", service="billing", fingerprint="4000000000000001",
                                                      status="resolved")))
    assert response.get_json() == {"alerts": 1, "attached_to": [], "signals": 0}
    assert _box(app) == {("billing", 1)}
    send(client, token, notification(alert("DiskSlow", service="billing", fingerprint="4000000000000002",
                                           status="resolved")))
    assert _box(app) == set()
    logged_in(client, make_user)
    assert 'id="possible-outages"' not in client.get("/").get_data(as_text=True)


def test_an_alert_waiting_in_the_box_attaches_once_an_incident_is_open(app, client, api):
    token = token_for(app)
    firing = notification(alert("HighErrorRate", service="login", fingerprint="5000000000000001"))
    send(client, token, firing)
    assert _box(app) == {("login", 1)}
    incident = declare(api, services=["login"])
    assert send(client, token, firing).get_json()["attached_to"] == [incident["id"]]   # the next repeat
    assert _box(app) == set()


def test_an_alert_still_firing_after_its_incident_is_resolved_returns_to_the_box(app, client, api):
    incident = declare(api, services=["login"])
    token = token_for(app)
    firing = alert("HighErrorRate", service="login", fingerprint="6000000000000001")
    send(client, token, notification(firing))
    assert api.post(f"/api/v1/incidents/{incident['id']}/updates",
                    json={"status": "resolved", "message": "fixed?"}).status_code == 201
    assert _box(app) == {("login", 1)}
    assert send(client, token, notification(firing)).get_json()["signals"] == 1
    # when it finally resolves, the incident it was on hears it
    send(client, token, notification(alert("HighErrorRate", service="login", fingerprint="6000000000000001",
                                           status="resolved")))
    assert [kind for kind, _ in events(app, incident["id"])] == ["alert_attached", "alert_resolved"]
    assert _box(app) == set()


def test_alerts_without_a_service_follow_their_group_to_its_incident(app, client, make_user, api):
    token = token_for(app)
    send(client, token, notification(alert("Watchdog", fingerprint="7000000000000001"), group_key="{}:{job=\"x\"}"))
    logged_in(client, make_user, email="lead2@example.com")
    response = post_form(client, "/alerts/declare", {"service": "", "severity": "SEV3"})
    incident_id = int(response.headers["Location"].rsplit("/", 1)[1])
    later = send(client, token, notification(alert("Heartbeat", fingerprint="7000000000000002"),
                                             group_key="{}:{job=\"x\"}"))
    assert later.get_json()["attached_to"] == [incident_id]
    other = send(client, token, notification(alert("Other", fingerprint="7000000000000003"), group_key="{}:{y}"))
    assert other.get_json() == {"alerts": 1, "attached_to": [], "signals": 1}


def test_a_lead_declares_from_the_box_and_the_alerts_attach(app, client, make_user, api):
    clock.freeze(clock.utcnow())
    token = token_for(app)
    send(client, token, notification(alert("HighErrorRate", service="login", fingerprint="8000000000000001"),
                                     alert("HighLatency", service="login", fingerprint="8000000000000002"),
                                     alert("DiskFull", service="billing", fingerprint="8000000000000003")))
    logged_in(client, make_user, role="lead")
    response = post_form(client, "/alerts/declare", {"service": "login", "severity": "SEV2"})
    assert response.status_code == 302
    incident_id = int(response.headers["Location"].rsplit("/", 1)[1])
    body = api.get(f"/api/v1/incidents/{incident_id}").get_json()
    assert (body["severity"], body["services"], body["roles"]["commander"]) == ("SEV2", ["login"], "ana@example.com")
    assert body["title"] == "Possible outage: service login"
    assert [kind for kind, _ in events(app, incident_id)] == ["alert_attached", "alert_attached"]
    assert _box(app) == {("billing", 1)}
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "firing: HighErrorRate · login · warning · HighErrorRate is failing" in page
    # nothing left to declare from: said, not a 500
    again = post_form(client, "/alerts/declare", {"service": "login", "severity": "SEV2"})
    assert again.status_code == 302 and again.headers["Location"].endswith("/")


def test_declaring_from_the_box_needs_a_lead_and_a_real_severity(app, client, make_user):
    token = token_for(app)
    send(client, token, notification(alert("HighErrorRate", service="login", fingerprint="9000000000000001")))
    logged_in(client, make_user, role="agent", email="agent@example.com")
    assert post_form(client, "/alerts/declare", {"service": "login", "severity": "SEV2"}).status_code == 403
    page = client.get("/").get_data(as_text=True)
    assert 'data-alerts="login"' in page and "Declare and attach" not in page
    assert client.post("/alerts/declare", data={"service": "login", "severity": "SEV2"}).status_code == 400  # no CSRF
    logged_in(client, make_user, role="lead", email="lead2@example.com")
    response = post_form(client, "/alerts/declare", {"service": "login", "severity": "SEV9"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
    assert "Severity is one of SEV1" in client.get("/").get_data(as_text=True)
    assert _box(app) == {("login", 1)}
