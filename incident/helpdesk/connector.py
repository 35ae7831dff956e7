"""The helpdesk connector interface: four calls a helpdesk must answer, nothing about incidents.

A connector (Zendesk today; Freshdesk or Jira Service Management later) implements `Helpdesk`:

- `changes_since(cursor, start)`: one page of tickets changed since a cursor (or a start time);
- `update_many(ids, changes)`: apply the same change to up to `max_ids` tickets, as a job;
- `jobs(job_ids)`: how those jobs stand, with one result per ticket when they are done;
- `show_many(ids)`: the tickets as they are now (to see which already carry a marker tag);
- `create_parent(subject, body, tags)`: the parent ticket an incident's tickets hang from;
- `comment(ticket_id, body, tags)`: one public reply on one ticket, at once (a broadcast's `ticket` channel).

`changes` is a `TicketChange`; a connector maps it to its own API. Calls never raise for a
provider's answer: `HelpdeskError` carries whether to try again and when. Connectors touch neither
the database nor Flask globals, so they run in the worker's threads and in tests alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class HelpdeskError(Exception):
    """A call the helpdesk refused or did not answer; `retryable` with `retry_after` seconds if known."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retryable, self.retry_after, self.status = retryable, retry_after, status


@dataclass(frozen=True)
class Requester:
    name: str = ""
    email: str | None = None
    phone: str | None = None
    locale: str | None = None


@dataclass(frozen=True)
class RemoteTicket:
    """A helpdesk ticket as Tocsin needs it."""

    id: str
    subject: str = ""
    description: str = ""
    status: str = "open"
    tags: tuple[str, ...] = ()
    requester: Requester = field(default_factory=Requester)
    brand_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Page:
    tickets: list[RemoteTicket]
    cursor: str | None            # where the next call starts
    end: bool                     # nothing more for now


@dataclass(frozen=True)
class TicketChange:
    """One change for many tickets: every field optional."""

    parent_id: str | None = None          # make them incidents of this parent
    detach: bool = False                  # no parent any more
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    status: str | None = None             # "solved"
    comment: str | None = None            # a public reply, seen by the requester

    def as_dict(self) -> dict:
        return {"parent_id": self.parent_id, "detach": self.detach, "add_tags": list(self.add_tags),
                "remove_tags": list(self.remove_tags), "status": self.status, "comment": self.comment}

    @classmethod
    def from_dict(cls, data: dict) -> TicketChange:
        return cls(parent_id=data.get("parent_id"), detach=bool(data.get("detach")),
                   add_tags=tuple(data.get("add_tags") or ()), remove_tags=tuple(data.get("remove_tags") or ()),
                   status=data.get("status"), comment=data.get("comment"))


@dataclass(frozen=True)
class TicketResult:
    id: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class JobState:
    id: str
    done: bool
    failed: bool = False                  # the whole job failed (no per-ticket results)
    error: str | None = None
    results: list[TicketResult] = field(default_factory=list)


class Helpdesk(Protocol):
    name: str
    sandbox: bool
    max_ids: int

    def changes_since(self, cursor: str | None, start: datetime | None = None) -> Page: ...

    def update_many(self, ids: list[str], change: TicketChange) -> str: ...   # the job's id

    def jobs(self, job_ids: list[str]) -> list[JobState]: ...

    def show_many(self, ids: list[str]) -> list[RemoteTicket]: ...

    def create_parent(self, subject: str, body: str, tags: list[str]) -> str: ...   # the parent's id

    def comment(self, ticket_id: str, body: str, tags: list[str]) -> str: ...   # the provider's id of the reply
