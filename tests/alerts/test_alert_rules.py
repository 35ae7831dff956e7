"""Rules that declare and page on their own (ALERT_RULES), and their grammar."""
from __future__ import annotations

import threading

import pytest

from incident.alerts.policy import matching_rule
from incident.config import ConfigError, load_settings, parse_alert_rules

from ..conftest import TEST_DATABASE_URL
from ..helpers import declare, deliveries
from .support import alert, alerts, events, notification, send, token_for

CRITICAL = "severity=critical:SEV2:engineering"


@pytest.fixture
def rules(app, monkeypatch):
    def use(text: str):
        monkeypatch.setitem(app.config, "ALERT_RULES", parse_alert_rules(text))
    return use


def test_a_critical_alert_declares_a_sev2_and_pages_engineering(app, client, setup, rules, api):
    rules(CRITICAL)
    token = token_for(app)
    response = send(client, token, notification(
        alert("HighErrorRate", service="checkout", severity="critical", fingerprint="a000000000000001"),
        alert("HighLatency", service="checkout", severity="critical", fingerprint="a000000000000002")))
    assert response.status_code == 202
    body = response.get_json()
    assert len(body["attached_to"]) == 1 and body["signals"] == 0   # one incident for the service, not two
    incident_id = body["attached_to"][0]
    incident = api.get(f"/api/v1/incidents/{incident_id}").get_json()
    assert (incident["severity"], incident["services"], incident["title"]) == (
        "SEV2", ["checkout"], "HighErrorRate is failing")
    assert incident["declared_by"] is None and incident["escalation"]["level"] == "engineering"
    kinds = [e["kind"] for e in api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"]]
    assert kinds[0] == "declared" and "escalated" in kinds and "paged" in kinds
    assert kinds.count("alert_attached") == 2 and kinds.count("alert_rule_matched") == 1
    (_, matched), = events(app, incident_id, "alert_rule")
    assert matched == {"rule": CRITICAL, "alert": "HighErrorRate", "fingerprint": "a000000000000001",
                       "escalated": True, "level": "engineering"}
    # the pages are outbox rows for the worker: dan is on call for engineering
    assert {(channel, recipient) for channel, recipient, *_ in deliveries(app)} == {
        ("slack", "UDAN"), ("sms", "+393473333333")}
    assert len(deliveries(app, purpose="slack_room")) == 1   # a SEV2 gets its channel, by the outbox too

    # a later critical alert on the same service joins the incident; nothing is declared or paged again
    later = send(client, token, notification(alert("Saturation", service="checkout", severity="critical",
                                                   fingerprint="a000000000000003")))
    assert later.get_json()["attached_to"] == [incident_id]
    assert len(api.get("/api/v1/incidents?status=open").get_json()["items"]) == 1
    assert len(deliveries(app)) == 2


def test_an_alert_that_matches_no_rule_waits_in_the_box(app, client, setup, rules, api):
    rules(CRITICAL)
    response = send(client, token_for(app), notification(alert("DiskFilling", service="billing", severity="warning",
                                                               fingerprint="b000000000000001")))
    assert response.get_json() == {"alerts": 1, "attached_to": [], "signals": 1}
    assert api.get("/api/v1/incidents?status=open").get_json()["total"] == 0


def test_with_an_open_incident_the_rule_attaches_and_leaves_paging_to_its_people(app, client, setup, rules, api):
    rules(CRITICAL)
    incident = declare(api, services=["login"], severity="SEV3")
    response = send(client, token_for(app), notification(alert("Down", service="login", severity="critical",
                                                               fingerprint="c000000000000001")))
    assert response.get_json()["attached_to"] == [incident["id"]]
    assert api.get("/api/v1/incidents?status=open").get_json()["total"] == 1
    assert deliveries(app) == []


def test_a_repeat_of_an_alert_already_waiting_does_not_declare(app, client, setup, rules, api):
    token = token_for(app)
    firing = notification(alert("Down", service="login", severity="critical", fingerprint="d000000000000001"))
    send(client, token, firing)          # no rules yet: it waits in the box
    rules(CRITICAL)
    assert send(client, token, firing).get_json()["signals"] == 1
    assert api.get("/api/v1/incidents?status=open").get_json()["total"] == 0


@pytest.mark.parametrize("text, reason", [
    ("severity=critical:SEV2:nosuchlevel", "policy default has no level nosuchlevel"),
    ("severity=critical:SEV3", "the rule names no escalation level"),
])
def test_a_rule_that_cannot_page_still_declares_and_says_why(app, client, setup, rules, api, text, reason):
    rules(text)
    response = send(client, token_for(app), notification(alert("Down", service="login", severity="critical",
                                                               fingerprint="e000000000000001")))
    assert response.status_code == 202
    (incident_id,) = response.get_json()["attached_to"]
    (_, matched), = events(app, incident_id, "alert_rule")
    assert matched["escalated"] is False and matched["reason"] == reason
    assert deliveries(app) == []


def test_without_any_escalation_policy_the_rule_declares_and_says_so(app, client, rules, api):
    rules(CRITICAL)
    response = send(client, token_for(app), notification(alert("Down", service="login", severity="critical",
                                                               fingerprint="f000000000000001")))
    (incident_id,) = response.get_json()["attached_to"]
    (_, matched), = events(app, incident_id, "alert_rule")
    assert matched["reason"] == "no escalation policy applies"
    assert len(alerts(app)) == 1


def test_the_first_matching_rule_wins_and_matchers_work_like_alertmanagers():
    found = parse_alert_rules('severity=critical, team=~"db|cache":SEV1:engineering; '
                              'severity=critical:SEV2:L2; env!=staging, alertname!~"Test.*":SEV4')
    assert [str(r) for r in found] == ["severity=critical,team=~db|cache:SEV1:engineering",
                                       "severity=critical:SEV2:L2", "env!=staging,alertname!~Test.*:SEV4"]
    assert matching_rule(found, {"severity": "critical", "team": "db"}) is found[0]
    assert matching_rule(found, {"severity": "critical", "team": "dbx"}) is found[1]   # a regex matches whole values
    assert matching_rule(found, {"severity": "warning", "alertname": "Down"}) is found[2]
    assert matching_rule(found, {"severity": "warning", "alertname": "TestAlert"}) is None
    assert matching_rule(found, {"severity": "warning", "env": "staging", "alertname": "Down"}) is None
    assert parse_alert_rules("none") == () and parse_alert_rules("  ") == ()
    assert str(parse_alert_rules('summary="a: b, c":SEV3')[0]) == 'summary="a: b, c":SEV3'


@pytest.mark.parametrize("text", ["severity:SEV2", "severity=critical", "severity=critical:SEV5",
                                  "severity=critical:SEV2:engineering:extra", 'team=~"(":SEV1', "=x:SEV1"])
def test_a_bad_rule_stops_the_process_at_start_naming_the_variable(text):
    with pytest.raises(ConfigError) as caught:
        load_settings({"ALERT_RULES": text})
    assert caught.value.problems[0].startswith("ALERT_RULES: ")


def test_a_bad_service_label_name_stops_the_process_at_start():
    with pytest.raises(ConfigError) as caught:
        load_settings({"ALERT_SERVICE_LABEL": "app.kubernetes.io/name"})
    assert caught.value.problems[0].startswith("ALERT_SERVICE_LABEL: ")
    assert load_settings({"ALERT_SERVICE_LABEL": "app"}).ALERT_SERVICE_LABEL == "app"


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="concurrent writers need PostgreSQL (SQLite has one writer)")
def test_two_notifications_at_once_for_one_service_declare_one_incident(app, setup, rules, api, monkeypatch):
    """Two Alertmanager groups fire together on one service: the second waits for the first to
    declare, then joins its incident — one incident, one round of pages."""
    from sqlalchemy import create_engine, text

    from incident.alerts import service

    rules(CRITICAL)
    token = token_for(app)
    # the source's last use noted now, so the two requests do not meet on its row but on the lock
    assert send(app.test_client(), token, notification()).status_code == 202
    real, calls = service.declare_for_rule, []
    declaring, proceed = threading.Event(), threading.Event()

    def slow_declare(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            declaring.set()
            proceed.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "declare_for_rule", slow_declare)
    answers = {}

    def post(name, fingerprint):
        body = notification(alert(name, service="checkout", severity="critical", fingerprint=fingerprint),
                            group_key=f'{{}}:{{alertname="{name}"}}')
        answers[name] = send(app.test_client(), token, body).get_json()

    first = threading.Thread(target=post, args=("HighErrorRate", "ab00000000000001"))
    first.start()
    assert declaring.wait(20)
    second = threading.Thread(target=post, args=("HighLatency", "ab00000000000002"))
    second.start()
    watcher = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    waited = None
    with watcher.connect() as conn:   # until the second request waits on a lock (or it is clear it never will)
        for _ in range(200):
            waited = conn.execute(text("SELECT locktype FROM pg_locks WHERE NOT granted LIMIT 1")).scalar()
            if waited:
                break
            second.join(0.05)
    watcher.dispose()
    proceed.set()
    first.join(20)
    second.join(20)
    assert waited == "advisory" and len(calls) == 1
    assert answers["HighErrorRate"]["attached_to"] == answers["HighLatency"]["attached_to"]
    assert api.get("/api/v1/incidents?status=open").get_json()["total"] == 1
    assert len(deliveries(app)) == 2
