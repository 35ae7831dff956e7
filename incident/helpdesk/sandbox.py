"""The sandbox helpdesk: with `ZENDESK_URL` unset, what Tocsin would have done to the helpdesk
is recorded (and shown in the sandbox outbox), and nothing leaves the machine."""
from __future__ import annotations

import itertools
import threading
from collections import deque
from datetime import datetime

from .connector import JobState, Page, RemoteTicket, TicketChange, TicketResult


class SandboxHelpdesk:
    name = "zendesk"
    sandbox = True
    max_ids = 100

    def __init__(self, *, keep: int = 20_000):
        self.calls: deque[tuple[str, tuple]] = deque(maxlen=keep)
        self._jobs: dict[str, list[str]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "SandboxHelpdesk()"

    def changes_since(self, cursor: str | None, start: datetime | None = None) -> Page:
        return Page(tickets=[], cursor=cursor, end=True)

    def update_many(self, ids: list[str], change: TicketChange) -> str:
        with self._lock:
            job = f"sandbox-job-{next(self._ids)}"
            self._jobs[job] = list(ids)
            self.calls.append(("update_many", (tuple(ids), change)))
        return job

    def jobs(self, job_ids: list[str]) -> list[JobState]:
        with self._lock:
            return [JobState(id=j, done=True, results=[TicketResult(id=i, ok=True) for i in self._jobs.pop(j, [])])
                    for j in job_ids]

    def show_many(self, ids: list[str]) -> list[RemoteTicket]:
        return []

    def create_parent(self, subject: str, body: str, tags: list[str]) -> str:
        with self._lock:
            self.calls.append(("create_parent", (subject, body, tuple(tags))))
            return f"sandbox-{next(self._ids)}"

    def comment(self, ticket_id: str, body: str, tags: list[str]) -> str:
        with self._lock:
            self.calls.append(("comment", (ticket_id, body, tuple(tags))))
            return f"sandbox-{next(self._ids)}"
