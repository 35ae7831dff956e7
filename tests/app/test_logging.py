"""Logging: one root handler, text or JSON lines, the scheduler's chatter hidden, nothing secret shown."""
from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from incident.config import Settings
from incident.logconfig import JsonFormatter, Redactor, configure_logging

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "xoxb-2222-secret-token"
PHONE = "+393471234567"


@pytest.fixture
def restore_logging():
    """What configure_logging changes, put back after the test (pytest's own handlers stay)."""
    root, quiet = logging.getLogger(), logging.getLogger("apscheduler")
    handlers, level, quiet_level = list(root.handlers), root.level, quiet.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    quiet.setLevel(quiet_level)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_format_is_one_parseable_object_per_line(restore_logging):
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out, force=True)
    log = logging.getLogger("incident.test")
    log.info("declared %s\nwith a second line", "INC-42")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("job failed")
    first, second = (json.loads(line) for line in lines(out))
    assert first["message"] == "declared INC-42\nwith a second line"
    assert (first["level"], first["logger"]) == ("INFO", "incident.test") and "exc_info" not in first
    assert first["time"].endswith("+00:00")
    assert second["message"] == "job failed" and second["level"] == "ERROR"
    assert "RuntimeError: boom" in second["exc_info"] and "Traceback" in second["exc_info"]


def test_scheduler_info_lines_are_hidden_unless_debug(restore_logging):
    out = io.StringIO()
    configure_logging("INFO", "text", stream=out, force=True)
    logging.getLogger("apscheduler.executors.default").info('Running job "tick"')
    logging.getLogger("apscheduler.scheduler").warning("Execution of job skipped")
    logging.getLogger("incident.worker").info("worker ticking every 1.0s")
    shown = out.getvalue()
    assert "Running job" not in shown
    assert "WARNING apscheduler.scheduler: Execution of job skipped" in shown
    assert "INFO incident.worker: worker ticking every 1.0s" in shown
    # a sending loop still running when its next start comes is the design: not a warning worth a line
    logging.getLogger("apscheduler.scheduler").warning(
        'Execution of job "%s" skipped: maximum number of running instances reached (%d)', "broadcasts", 1)
    assert "broadcasts" not in out.getvalue()

    out = io.StringIO()
    configure_logging("DEBUG", "text", stream=out, force=True)
    logging.getLogger("apscheduler.executors.default").info('Running job "tick"')
    assert 'Running job "tick"' in out.getvalue()


def test_a_quieter_level_is_not_undercut_by_the_scheduler(restore_logging):
    out = io.StringIO()
    configure_logging("ERROR", "text", stream=out, force=True)
    logging.getLogger("apscheduler.scheduler").warning("skipped")
    assert out.getvalue() == ""


def test_configuring_again_replaces_the_handler_and_leaves_others_alone(restore_logging):
    root = logging.getLogger()
    before = len(root.handlers)
    configure_logging("INFO", "text", stream=io.StringIO(), force=True)
    configure_logging("INFO", "json", stream=io.StringIO(), force=True)
    assert len(root.handlers) == before + 1
    # someone else's handlers (gunicorn --log-config, pytest): their setup is kept
    assert configure_logging("INFO", "json", stream=io.StringIO()) is None


def test_secrets_and_phone_numbers_never_reach_a_line():
    redact = Redactor([TOKEN, "x"])
    record = logging.LogRecord("incident.t", logging.INFO, __file__, 1, "sent to %s with %s", (PHONE, TOKEN), None)
    entry = json.loads(JsonFormatter(redact).format(record))
    assert entry["message"] == "sent to +39********67 with [redacted]"
    assert redact("x marks the spot; ticket 1234567890") == "x marks the spot; ticket 1234567890"


def test_create_app_logs_json_lines_without_scheduler_chatter_or_secrets():
    """A fresh process, as gunicorn or the worker starts one."""
    code = ("import logging; from incident import create_app; create_app(); "
            "logging.getLogger('apscheduler.executors.default').info('Running job tick'); "
            f"logging.getLogger('incident.broadcast').info('sms to {PHONE} with token {TOKEN}')")
    env = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    env.update(SECRET_KEY="x", DATABASE_URL="sqlite://", LOG_FORMAT="json", SLACK_BOT_TOKEN=TOKEN)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    ours = [e for e in entries if e["logger"] == "incident.broadcast"]
    assert [e["message"] for e in ours] == ["sms to +39********67 with token [redacted]"]
    assert not [e for e in entries if e["logger"].startswith("apscheduler")]
    assert TOKEN not in result.stderr and PHONE not in result.stderr
