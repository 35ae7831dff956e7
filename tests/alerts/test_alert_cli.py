"""`flask --app wsgi alerts token create|revoke|list` and `alerts rules`."""
from __future__ import annotations

from incident.config import parse_alert_rules

from ..conftest import count_rows
from .support import payload, send


def test_token_create_prints_a_token_that_the_webhooks_take(app, client, runner):
    result = runner.invoke(args=["alerts", "token", "create", "Prod-AM"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("tal_") and len(token) > 40
    assert send(client, token, payload("alertmanager-v4")).status_code == 202
    assert send(client, token, payload("grafana-webhook"), kind="grafana").status_code == 202
    listed = runner.invoke(args=["alerts", "token", "list"]).output
    assert listed.startswith(f"prod-am\t{token[:12]}…\tlive\tlast used 20")
    assert token not in listed


def test_a_second_token_for_a_live_source_is_refused_until_revoked(app, client, runner):
    first = runner.invoke(args=["alerts", "token", "create", "prod"]).stdout.strip().splitlines()[-1]
    again = runner.invoke(args=["alerts", "token", "create", "prod"])
    assert again.exit_code == 1 and "revoke it first" in again.output
    revoked = runner.invoke(args=["alerts", "token", "revoke", "prod"])
    assert revoked.exit_code == 0 and "Revoked" in revoked.output
    assert send(client, first, payload("alertmanager-v4")).status_code == 401
    second = runner.invoke(args=["alerts", "token", "create", "prod"]).stdout.strip().splitlines()[-1]
    assert second != first
    assert send(client, second, payload("alertmanager-v4")).status_code == 202
    assert send(client, first, payload("alertmanager-v4")).status_code == 401
    assert count_rows(app, "alert_sources")["alert_sources"] == 1


def test_bad_names_and_unknown_sources_exit_non_zero(app, runner):
    assert runner.invoke(args=["alerts", "token", "create", "no spaces"]).exit_code == 1
    assert runner.invoke(args=["alerts", "token", "revoke", "nobody"]).exit_code == 1
    assert count_rows(app, "alert_sources")["alert_sources"] == 0


def test_rules_prints_the_rules_in_force(app, runner, monkeypatch):
    assert "No alert rules" in runner.invoke(args=["alerts", "rules"]).output
    monkeypatch.setitem(app.config, "ALERT_RULES", parse_alert_rules("severity=critical:SEV2:engineering;env=prod:SEV4"))
    output = runner.invoke(args=["alerts", "rules"]).output
    assert output.splitlines() == ["1. severity=critical:SEV2:engineering  →  declare SEV2, page engineering",
                                   "2. env=prod:SEV4  →  declare SEV4, page nobody"]
