"""The webhooks: the documented Alertmanager v4 and Grafana payloads, tokens (401), malformed (400),
oversized (413), and the same alert sent twice being one alert."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from incident.alerts.policy import fingerprint
from incident.alerts.sources import revoke_source

from ..conftest import TEST_DATABASE_URL, count_rows
from .support import alert, alerts, notification, payload, send, token_for


def test_the_documented_alertmanager_payload_is_one_alert(app, client):
    token = token_for(app)
    response = send(client, token, payload("alertmanager-v4"))
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"alerts": 1, "attached_to": [], "signals": 1}
    (row,) = alerts(app)
    assert (row.fingerprint, row.name, row.status, row.kind, row.source) == (
        "1a30ba71cca2921f", "ProbeFailure", "firing", "alertmanager", "prod")
    assert row.service is None   # the example names no service: it waits under "no service label"
    assert row.labels["severity"] == "critical"
    assert row.annotations["summary"] == "BlackBox Probe Failure: https://server.example.org"
    assert row.starts_at == datetime(2023, 2, 6, 13, 8, 45, 828000, tzinfo=timezone.utc)
    assert row.ends_at is None   # Go's zero time means "not ended"
    assert row.links["generatorURL"].endswith("probe_success+%3D%3D+0&g0.tab=1")
    assert row.group_key == '{}/{severity="critical"}:{alertname="ProbeFailure"}'


def test_the_documented_grafana_payload_groups_by_the_configured_label(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "ALERT_SERVICE_LABEL", "team")
    token = token_for(app, "grafana")
    response = send(client, token, payload("grafana-webhook"), kind="grafana")
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"alerts": 2, "attached_to": [], "signals": 1}
    rows = alerts(app)
    assert [(r.fingerprint, r.name, r.service, r.kind) for r in rows] == [
        ("c6eadffa33fcdf37", "High memory usage", "blue", "grafana"),
        ("bc97ff14869b13e3", "High CPU usage", "blue", "grafana")]
    assert rows[0].links["silenceURL"].startswith("https://play.grafana.org/alerting/silence/new?")
    assert "dashboardURL" not in rows[0].links   # empty in the example: nothing to keep
    assert rows[0].starts_at == datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=timezone.utc)


def test_grafana_version_is_not_alertmanagers(app, client):
    """Grafana says version "1"; the Alertmanager endpoint takes only its own version 4."""
    token = token_for(app)
    response = send(client, token, payload("grafana-webhook"), kind="alertmanager")
    assert response.status_code == 400
    assert "version" in response.get_json()["error"]["details"]
    assert count_rows(app, "alerts")["alerts"] == 0


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer tal_wrong", "Basic cHJvZDp4", "tal_nobearer"])
def test_a_missing_or_unknown_token_is_a_401_and_writes_nothing(app, client, header):
    token_for(app)
    headers = {"Authorization": header} if header else {}
    for kind in ("alertmanager", "grafana"):
        response = client.post(f"/webhooks/{kind}", json=payload("alertmanager-v4"), headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
    assert count_rows(app, "alerts")["alerts"] == 0


def test_a_revoked_token_and_a_staff_api_token_are_refused(app, client, api):
    token = token_for(app)
    with app.app_context():
        revoke_source("prod")
    assert send(client, token, payload("alertmanager-v4")).status_code == 401
    assert send(client, api.token, payload("alertmanager-v4")).status_code == 401   # staff tokens are not alert sources
    assert count_rows(app, "alerts")["alerts"] == 0


def test_only_the_tokens_hash_is_stored(app):
    token = token_for(app)
    with app.app_context():
        from sqlalchemy import text

        from incident.extensions import db
        row = db.session.execute(text("SELECT name, token_hash, prefix FROM alert_sources")).one()
    assert row.name == "prod" and token not in row.token_hash and len(row.token_hash) == 64
    assert token.startswith(row.prefix) and len(row.prefix) == 12


def _broken(change):
    body = notification(alert("Ok", service="login", fingerprint="aaaa000000000001"),
                        alert("Broken", service="login", fingerprint="aaaa000000000002"))
    change(body)
    return body


@pytest.mark.parametrize("change, where", [
    (lambda b: b.update(version="3"), "version"),
    (lambda b: b.pop("version"), "version"),
    (lambda b: b.update(alerts={"not": "a list"}), "alerts"),
    (lambda b: b.update(status="exploded"), "status"),
    (lambda b: b["alerts"][1].update(status="pending"), "alerts.1.status"),
    (lambda b: b["alerts"][1].pop("labels"), "alerts.1.labels"),
    (lambda b: b["alerts"][1]["labels"].update(replicas=3), "alerts.1.labels"),
    (lambda b: b["alerts"][1].update(annotations=["x"]), "alerts.1.annotations"),
    (lambda b: b["alerts"][1].update(startsAt="yesterday"), "alerts.1.startsAt"),
    (lambda b: b["alerts"][1].update(endsAt="2026-11-22T09:00:00"), "alerts.1.endsAt"),
    (lambda b: b["alerts"][1].update(fingerprint="f" * 65), "alerts.1.fingerprint"),
    (lambda b: b["alerts"][1].update(generatorURL=42), "alerts.1.generatorURL"),
    (lambda b: b["alerts"].__setitem__(1, "firing"), "alerts.1"),
    (lambda b: b.update(truncatedAlerts=-1), "truncatedAlerts"),
])
def test_a_malformed_notification_is_a_400_naming_the_field_and_writes_nothing(app, client, change, where):
    token = token_for(app)
    response = send(client, token, _broken(change))
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "malformed_alerts" and where in error["details"], error
    assert count_rows(app, "alerts")["alerts"] == 0   # not even the good alert before the bad one


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"firing"'])
def test_a_body_that_is_not_a_json_object_is_a_400(app, client, body):
    response = send(client, token_for(app), body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_json"


def test_an_oversized_notification_is_a_413_and_writes_nothing(app, client, monkeypatch):
    token = token_for(app)
    monkeypatch.setitem(app.config, "MAX_ALERT_BODY_BYTES", 4096)
    body = notification(*[alert(f"Alert{n}", service="login", fingerprint=f"{n:016x}") for n in range(40)])
    raw = json.dumps(body).encode()
    assert len(raw) > 4096
    response = send(client, token, raw)
    assert response.status_code == 413
    assert response.get_json()["error"]["details"]["max_bytes"] == 4096
    assert count_rows(app, "alerts")["alerts"] == 0


def test_the_alert_limit_is_its_own_beyond_the_ordinary_one(app, client):
    """A big group (over MAX_BODY_BYTES, 256 KiB) still fits MAX_ALERT_BODY_BYTES (2 MiB)."""
    token = token_for(app)
    body = notification(*[alert(f"Alert{n}", service="login", fingerprint=f"{n:016x}", pad="x" * 400)
                          for n in range(600)])
    assert len(json.dumps(body)) > app.config["MAX_BODY_BYTES"]
    response = send(client, token, body)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["alerts"] == 600


def test_the_same_alert_sent_twice_is_one_alert(app, client):
    token = token_for(app)
    first = send(client, token, payload("alertmanager-v4")).get_json()
    again = send(client, token, payload("alertmanager-v4")).get_json()
    assert first == again == {"alerts": 1, "attached_to": [], "signals": 1}
    (row,) = alerts(app)
    assert row.received == 2


def test_a_duplicate_inside_one_notification_is_one_alert(app, client):
    token = token_for(app)
    twice = alert("Twice", service="login", fingerprint="0123456789abcdef")
    response = send(client, token, notification(twice, dict(twice)))
    assert response.get_json()["alerts"] == 2   # what was sent …
    assert len(alerts(app)) == 1                # … is one alert


def test_without_a_fingerprint_one_is_computed_from_the_sorted_labels(app, client):
    token = token_for(app)
    body = payload("alertmanager-v4-no-fingerprint")
    assert send(client, token, body).status_code == 202
    reordered = payload("alertmanager-v4-no-fingerprint")
    labels = reordered["alerts"][0]["labels"]
    reordered["alerts"][0]["labels"] = dict(reversed(list(labels.items())))
    assert send(client, token, reordered).status_code == 202
    (row,) = alerts(app)
    assert row.fingerprint == fingerprint(labels) and len(row.fingerprint) == 16
    assert row.received == 2
    # nanoseconds, as Alertmanager writes them, read to the microsecond
    assert row.starts_at == datetime(2018, 8, 3, 7, 52, 26, 739266, tzinfo=timezone.utc)
    other = payload("alertmanager-v4-no-fingerprint")
    other["alerts"][0]["labels"]["dc"] = "us-east-1"
    send(client, token, other)
    assert len(alerts(app)) == 2   # other labels, another alert


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="concurrent writers need PostgreSQL (SQLite has one writer)")
def test_the_same_new_alert_from_both_alertmanagers_of_a_pair_at_once_is_one_alert(app, client, monkeypatch):
    """The other request inserts the alert between this one's lookup and its insert: a unique
    violation, and this request takes it again as the repeat it is (202, not 409)."""
    from sqlalchemy import insert

    from incident import clock
    from incident.alerts import service
    from incident.alerts.models import Alert
    from incident.extensions import db

    token = token_for(app)
    real, raced = service._upsert, []

    def racing(row, incoming, *args):
        if not raced:
            raced.append(incoming.fingerprint)
            with db.engine.begin() as other:
                now = clock.utcnow()
                other.execute(insert(Alert).values(
                    fingerprint=incoming.fingerprint, source="prod", kind="alertmanager", status="firing", name="x",
                    labels={}, annotations={}, links={}, group_key="", first_received_at=now, last_received_at=now,
                    received=1))
        return real(row, incoming, *args)

    monkeypatch.setattr(service, "_upsert", racing)
    response = send(client, token, payload("alertmanager-v4"))
    assert response.status_code == 202, response.get_json()
    assert raced == ["1a30ba71cca2921f"]
    (row,) = alerts(app)
    assert (row.name, row.received) == ("ProbeFailure", 2)


def test_a_grafana_resolved_notification_resolves_its_alert(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "ALERT_SERVICE_LABEL", "team")
    token = token_for(app, "grafana")
    send(client, token, payload("grafana-webhook"), kind="grafana")
    resolved = payload("grafana-webhook")
    resolved["status"], resolved["state"] = "resolved", "ok"
    resolved["alerts"] = resolved["alerts"][:1]
    resolved["alerts"][0].update(status="resolved", endsAt="2021-10-12T10:01:03.157076+02:00")
    response = send(client, token, resolved, kind="grafana")
    assert response.get_json() == {"alerts": 1, "attached_to": [], "signals": 0}
    rows = {r.fingerprint: r for r in alerts(app)}
    assert rows["c6eadffa33fcdf37"].status == "resolved"
    assert rows["c6eadffa33fcdf37"].ends_at == datetime(2021, 10, 12, 8, 1, 3, 157076, tzinfo=timezone.utc)
    assert rows["bc97ff14869b13e3"].status == "firing"
