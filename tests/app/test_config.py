"""Configuration: parsed and checked once at start; a bad value stops the process with one clear line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from incident import create_app
from incident.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "xoxb-1111-secret-token"
PASSWORD = "hunter2-relay-password"


@pytest.fixture
def environ(monkeypatch):
    """No setting from the developer's environment leaks into these tests."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    return {**env, "SECRET_KEY": "x", **values}


def test_every_setting_has_its_documented_default_and_type(environ):
    s = load_settings()
    assert (s.SCHEDULER_TICK_SECONDS, s.LOGIN_FAILURES_PER_ACCOUNT, s.SESSION_COOKIE_SECURE) == (1.0, 5, False)
    assert (s.MAX_BODY_BYTES, s.TRUSTED_PROXIES, s.STATUS_SMS_SIGNUPS_PER_DAY) == (256 * 1024, 0, 500)
    assert (s.HOST, s.PORT, s.PUBLIC_BASE_URL) == ("127.0.0.1", 5000, "http://127.0.0.1:5000")
    assert (s.LOG_LEVEL, s.LOG_FORMAT) == ("INFO", "text")
    assert (s.FLOOD_WINDOW_MINUTES, s.FLOOD_BASELINE_HOURS, s.FLOOD_FACTOR, s.FLOOD_MIN_TICKETS,
            s.FLOOD_MIN_BASELINE_PER_HOUR) == (15, 24, 5.0, 20, 1.0)
    assert s.CHANNEL_RATE_LIMITS == {"sms": 10.0, "email": 50.0, "slack": 1.0, "ticket": 1.0}
    assert (s.DISPATCH_THREADS, s.DISPATCH_LEASE_SECONDS) == (32, 300.0)
    assert s.SLACK_INCIDENT_CHANNELS == {"SEV1", "SEV2"}
    assert s.ESCALATION_TRIGGER_WORDS == ["data loss", "security breach", "data breach"]
    assert (s.STATUS_PAGE_NAME, s.STATUS_PAGE_ID, s.STATUS_SNAPSHOT_CHECK_SECONDS) == ("Tocsin", "tocsin", 1.0)
    assert (s.STATUS_SIGNUPS_PER_ADDRESS_PER_HOUR, s.STATUS_SIGNUPS_PER_CLIENT_PER_HOUR) == (3, 20)
    assert s.SMTP_PORT is None and s.SMTP_STARTTLS is False and s.SLACK_BOT_TOKEN is None
    assert Path(s.RUNBOOKS_DIR) == ROOT / "runbooks"


def test_the_environment_is_parsed_once_into_typed_app_config(environ, tmp_path):
    for name, value in {"SCHEDULER_TICK_SECONDS": "0.5", "SESSION_COOKIE_SECURE": "yes", "SMTP_PORT": " 2525 ",
                        "SMTP_STARTTLS": "ON", "CHANNEL_RATE_LIMITS": "sms=5, email=200",
                        "SLACK_INCIDENT_CHANNELS": "sev1", "ESCALATION_TRIGGER_WORDS": " Ransomware, data loss ",
                        "FLOOD_FACTOR": "3", "LOG_LEVEL": "warning", "PUBLIC_BASE_URL": "https://tocsin.example/",
                        "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "STATUS_PAGE_NAME": "Acme"}.items():
        environ.setenv(name, value)
    config = create_app({"TESTING": True, "SECRET_KEY": "x"}).config
    assert config["SCHEDULER_TICK_SECONDS"] == 0.5 and config["SESSION_COOKIE_SECURE"] is True
    assert (config["SMTP_PORT"], config["SMTP_STARTTLS"]) == (2525, True)
    assert config["CHANNEL_RATE_LIMITS"] == {"sms": 5.0, "email": 200.0, "slack": 1.0, "ticket": 1.0}
    assert config["SLACK_INCIDENT_CHANNELS"] == {"SEV1"}
    assert config["ESCALATION_TRIGGER_WORDS"] == ["ransomware", "data loss"]
    assert config["FLOOD_FACTOR"] == 3.0 and config["LOG_LEVEL"] == "WARNING"
    assert config["PUBLIC_BASE_URL"] == "https://tocsin.example" and config["STATUS_PAGE_NAME"] == "Acme"
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/x.sqlite3"
    assert "DATABASE_URL" not in config


def test_test_config_overrides_take_raw_or_typed_values(environ):
    environ.setenv("SCHEDULER_TICK_SECONDS", "7")
    raw = create_app({"TESTING": True, "SECRET_KEY": "x", "SCHEDULER_TICK_SECONDS": "0.2",
                      "CHANNEL_RATE_LIMITS": "email=1500", "SQLALCHEMY_DATABASE_URI": "sqlite://"}).config
    typed = create_app({"TESTING": True, "SECRET_KEY": "x", "SCHEDULER_TICK_SECONDS": 0.2,
                        "CHANNEL_RATE_LIMITS": {"email": 1500}, "SQLALCHEMY_DATABASE_URI": "sqlite://"}).config
    for config in (raw, typed):
        assert config["SCHEDULER_TICK_SECONDS"] == 0.2
        assert config["CHANNEL_RATE_LIMITS"] == {"sms": 10.0, "email": 1500.0, "slack": 1.0, "ticket": 1.0}
        assert config["SQLALCHEMY_DATABASE_URI"] == "sqlite://" and config["TESTING"] is True


def test_blank_means_the_default_and_none_turns_lists_off(environ):
    environ.setenv("DISPATCH_THREADS", "")
    environ.setenv("FLOOD_FACTOR", "   ")
    environ.setenv("SLACK_INCIDENT_CHANNELS", "none")
    environ.setenv("ESCALATION_TRIGGER_WORDS", "NONE")
    s = load_settings({"SLACK_BOT_TOKEN": "  ", "SMTP_HOST": None})
    assert (s.DISPATCH_THREADS, s.FLOOD_FACTOR, s.SLACK_BOT_TOKEN, s.SMTP_HOST) == (32, 5.0, None, None)
    assert s.SLACK_INCIDENT_CHANNELS == frozenset() and s.ESCALATION_TRIGGER_WORDS == []


def test_postgres_urls_use_psycopg_3(environ, tmp_path):
    environ.setenv("DATABASE_URL", "postgres://tocsin@db.internal/tocsin")
    assert load_settings().to_config(str(tmp_path))["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg://tocsin@db.internal/tocsin")


@pytest.mark.parametrize("value, on", [("1", True), ("true", True), ("YES", True), ("on", True),
                                       ("0", False), ("no", False), ("Off", False)])
def test_flags_read_the_usual_words(environ, value, on):
    environ.setenv("SMTP_STARTTLS", value)
    assert load_settings().SMTP_STARTTLS is on


@pytest.mark.parametrize("name, value, message", [
    ("SCHEDULER_TICK_SECONDS", "abc", "SCHEDULER_TICK_SECONDS: expected a number, got 'abc'"),
    ("SCHEDULER_TICK_SECONDS", "0", "SCHEDULER_TICK_SECONDS: expected a number above 0, got '0'"),
    ("SCHEDULER_TICK_SECONDS", "nan", "SCHEDULER_TICK_SECONDS: expected a finite number, got 'nan'"),
    ("TRUSTED_PROXIES", "-1", "TRUSTED_PROXIES: expected a number at least 0, got '-1'"),
    ("DISPATCH_THREADS", "lots", "DISPATCH_THREADS: expected a whole number, got 'lots'"),
    ("FLOOD_MIN_TICKETS", "2.5", "FLOOD_MIN_TICKETS: expected a whole number, got '2.5'"),
    ("PORT", "70000", "PORT: expected a number at most 65535, got '70000'"),
    ("SESSION_COOKIE_SECURE", "enabled", "SESSION_COOKIE_SECURE: expected on or off"),
    ("LOG_LEVEL", "verbose", "LOG_LEVEL: expected one of 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'"),
    ("LOG_FORMAT", "xml", "LOG_FORMAT: expected one of 'text' or 'json', got 'xml'"),
    ("CHANNEL_RATE_LIMITS", "sms=10,fax=3", "CHANNEL_RATE_LIMITS: expected channel=number pairs"),
    ("CHANNEL_RATE_LIMITS", "sms=fast", "got 'sms=fast'"),
    ("CHANNEL_RATE_LIMITS", "sms=0", "numbers above 0"),
    ("SLACK_INCIDENT_CHANNELS", "SEV1,SEV5", "SLACK_INCIDENT_CHANNELS: expected severities among SEV1"),
    ("PUBLIC_BASE_URL", "tocsin.example.com", "PUBLIC_BASE_URL: expected an http:// or https:// URL"),
    ("SLACK_API_URL", "slack.com/api", "SLACK_API_URL: expected an http:// or https:// URL"),
    ("RUNBOOKS_DIR", "/no/such/runbooks", "RUNBOOKS_DIR: expected an existing directory, got '/no/such/runbooks'"),
    ("DATABASE_URL", "postgressql://tocsin@db/tocsin", "DATABASE_URL: expected a database URL"),
])
def test_a_bad_value_is_a_config_error_naming_the_variable(environ, name, value, message):
    environ.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        create_app({"TESTING": True})
    assert message in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__   # no pydantic wall behind it


def test_every_bad_value_is_named_at_once(environ):
    environ.setenv("SCHEDULER_TICK_SECONDS", "abc")
    environ.setenv("DISPATCH_THREADS", "-2")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert [p.split(":")[0] for p in caught.value.problems] == ["SCHEDULER_TICK_SECONDS", "DISPATCH_THREADS"]


def test_bad_test_config_values_are_refused_too(environ):
    with pytest.raises(ConfigError, match="FLOOD_FACTOR: expected a number above 0, got -1"):
        create_app({"TESTING": True, "SECRET_KEY": "x", "FLOOD_FACTOR": -1})


def test_secrets_are_never_echoed_in_the_error(environ):
    environ.setenv("SLACK_BOT_TOKEN", TOKEN)
    environ.setenv("SMTP_PASSWORD", PASSWORD)
    environ.setenv("SCHEDULER_TICK_SECONDS", "abc")
    environ.setenv("DATABASE_URL", f"postgressql://tocsin:{PASSWORD}@db/tocsin")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    shown = str(caught.value) + repr(caught.value) + " ".join(caught.value.problems)
    assert "DATABASE_URL: expected a database URL" in shown and "SCHEDULER_TICK_SECONDS" in shown
    assert TOKEN not in shown and PASSWORD not in shown and "postgressql" not in shown


def test_the_worker_stops_at_once_on_a_bad_value():
    env = clean_env(SCHEDULER_TICK_SECONDS="abc", SLACK_BOT_TOKEN=TOKEN, SMTP_PASSWORD=PASSWORD)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip() == "Configuration error: SCHEDULER_TICK_SECONDS: expected a number, got 'abc'"
    assert TOKEN not in result.stderr + result.stdout and PASSWORD not in result.stderr + result.stdout


def test_gunicorn_stops_at_once_on_a_bad_value():
    """gunicorn.conf.py checks in the master, before a worker boots: one line, no traceback."""
    env = clean_env(SCHEDULER_TICK_SECONDS="abc", TWILIO_AUTH_TOKEN=TOKEN)
    result = subprocess.run([sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "2",
                             "wsgi:app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Configuration error: SCHEDULER_TICK_SECONDS: expected a number, got 'abc'" in result.stderr
    assert "Traceback" not in result.stderr and "Booting worker" not in result.stderr
    assert TOKEN not in result.stderr


def test_importing_wsgi_with_a_bad_value_exits_non_zero_with_the_message():
    env = clean_env(PORT="http")
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 4   # gunicorn's "App failed to load": its master stops, not re-forks
    assert result.stderr == "Configuration error: PORT: expected a whole number, got 'http'\n"
