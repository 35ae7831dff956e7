"""Logging for the web and worker processes: one handler on the root logger, text or JSON lines.

JSON is a stdlib Formatter of a dozen lines rather than python-json-logger: the fields are ours
(time, level, logger, message, exc_info), the redaction below sits in the same place, and it
costs no dependency.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import IO

from .validation import mask_phone

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Chatter shown only with LOG_LEVEL=DEBUG: the scheduler's two INFO lines per job per tick, and
# alembic's list of its plugins in every process that imports it.
QUIET = ("apscheduler", "alembic.runtime.plugins")
_PHONE = re.compile(r"\+\d{7,15}\b")   # E.164, the form Tocsin stores numbers in
_MARK = "_tocsin_handler"


class ExpectedSkips(logging.Filter):
    """The worker's sending jobs run as loops longer than the tick (a broadcast's budget is 30 s), so
    the scheduler skipping their next start while one runs is the design, not news: not logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in str(record.msg)


_SKIPS = ExpectedSkips()


class Redactor:
    """Masks phone numbers and the configured secrets wherever they appear in a log line."""

    def __init__(self, secrets: Iterable[str] = ()):
        # a very short "secret" (a test's SECRET_KEY=x) would blank out ordinary words
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return _PHONE.sub(lambda match: mask_phone(match.group()), text)


class TextFormatter(logging.Formatter):
    """`2026-11-22 09:30:00,123 INFO incident.worker: …`, redacted."""

    def __init__(self, redact: Callable[[str], str] | None = None):
        super().__init__(TEXT_FORMAT)
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and exc_info when there is one."""

    def __init__(self, redact: Callable[[str], str] | None = None):
        super().__init__()
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": self.redact(record.getMessage())}
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_info"] = self.redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack_info"] = self.redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", fmt: str = "text", *, secrets: Iterable[str] = (),
                      stream: IO[str] | None = None, force: bool = False) -> logging.Handler | None:
    """Install Tocsin's one root handler (replacing the one an earlier call installed).

    A process whose logging was set up by someone else (gunicorn's --log-config, pytest) keeps
    it, unless `force`. The scheduler's own INFO lines are hidden unless `level` is DEBUG.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _MARK, False)]
    if len(ours) < len(root.handlers) and not force:
        return None
    for handler in ours:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    setattr(handler, _MARK, True)
    redact = Redactor(secrets)
    handler.setFormatter(JsonFormatter(redact) if fmt == "json" else TextFormatter(redact))
    root.addHandler(handler)
    root.setLevel(level)
    quiet = logging.NOTSET if root.level <= logging.DEBUG else max(logging.WARNING, root.level)
    for name in QUIET:
        logging.getLogger(name).setLevel(quiet)
    scheduler = logging.getLogger("apscheduler.scheduler")
    if _SKIPS not in scheduler.filters:
        scheduler.addFilter(_SKIPS)
    return handler
