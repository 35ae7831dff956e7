"""Zendesk Support's REST API v2 behind the `Helpdesk` interface, with `requests`.

Why not zenpy: it builds every URL as `https://{subdomain}.{domain}` (so `ZENDESK_URL` could not
point at a loopback stand-in or a proxy) and sleeps inside a call on `429`, which would hold a
worker thread and bypass the budget all workers share. Here a `requests.Session` keeps the
connection and auth; connection failures on reads are retried by urllib3's `Retry`; everything
else (429 with `Retry-After`, 5xx, timeouts) goes back to the outbox, which retries with backoff.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .connector import HelpdeskError, JobState, Page, RemoteTicket, Requester, TicketChange, TicketResult

logger = logging.getLogger(__name__)
TIMEOUT = (5, 30)          # connect, read: an update_many answers with a job at once
MAX_IDS = 100              # Zendesk's limit for update_many, show_many and job_statuses/show_many
EXPORT_PAGE = 1000


def zendesk_id(external_id: str | None) -> str | None:
    """The Zendesk ticket id a Tocsin ticket of source `zendesk` stands for: its external id, with the
    `ZD-` prefix of CSV exports and older batches allowed; None when it is not a Zendesk id."""
    text = (external_id or "").strip()
    if text[:3].upper() == "ZD-":
        text = text[3:]
    return str(int(text)) if text.isdigit() and len(text) <= 18 else None


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split()
    return tuple(str(t) for t in (value or ()) if str(t).strip())


def parse_ticket(data: dict, users: dict[Any, dict]) -> RemoteTicket:
    """A Zendesk ticket (and its requester, from the sideloaded users) as a `RemoteTicket`."""
    user = users.get(data.get("requester_id")) or data.get("requester") or {}
    return RemoteTicket(
        id=str(data["id"]), subject=data.get("subject") or "", description=data.get("description") or "",
        status=data.get("status") or "open", tags=_tags(data.get("tags")),
        requester=Requester(name=user.get("name") or "", email=user.get("email") or None,
                            phone=user.get("phone") or None, locale=user.get("locale") or None),
        brand_id=data.get("brand_id"), created_at=_time(data.get("created_at")), updated_at=_time(data.get("updated_at")))


def ticket_body(change: TicketChange) -> dict:
    """The `ticket` object of an update_many for this change."""
    body: dict[str, Any] = {}
    if change.parent_id is not None:
        body.update(type="incident", problem_id=int(change.parent_id))
    elif change.detach:
        body["problem_id"] = None
    if change.add_tags:
        body["additional_tags"] = list(change.add_tags)
    if change.remove_tags:
        body["remove_tags"] = list(change.remove_tags)
    if change.status:
        body["status"] = change.status
    if change.comment:
        body["comment"] = {"body": change.comment, "public": True}
    return body


class ZendeskHelpdesk:
    name = "zendesk"
    sandbox = False
    max_ids = MAX_IDS

    def __init__(self, base_url: str, email: str, token: str, *, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.session.auth = (f"{email}/token", token)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "Tocsin"})
        reads = Retry(total=2, connect=2, read=0, status=0, other=0, backoff_factor=0.2,
                      allowed_methods=frozenset({"GET"}))
        self.session.mount("http://", HTTPAdapter(max_retries=reads, pool_maxsize=32))
        self.session.mount("https://", HTTPAdapter(max_retries=reads, pool_maxsize=32))

    def __repr__(self) -> str:   # never the token
        return f"ZendeskHelpdesk({self.base_url!r})"

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self.session.request(method, self.base_url + path, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as error:
            raise HelpdeskError(f"no answer ({type(error).__name__})", retryable=True) from None
        if response.status_code == 429:
            raise HelpdeskError("rate limited (429)", retryable=True, retry_after=_retry_after(response), status=429)
        if response.status_code >= 500:
            raise HelpdeskError(f"helpdesk error ({response.status_code})", retryable=True,
                                retry_after=_retry_after(response), status=response.status_code)
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = {}
        if response.status_code >= 400:
            raise HelpdeskError(f"{response.status_code} {_reason(data)}"[:300], retryable=False,
                                status=response.status_code)
        return data if isinstance(data, dict) else {}

    def changes_since(self, cursor: str | None, start: datetime | None = None) -> Page:
        params: dict[str, Any] = {"include": "users", "per_page": EXPORT_PAGE}
        if cursor:
            params["cursor"] = cursor
        else:
            params["start_time"] = int((start or datetime.fromtimestamp(0)).timestamp())
        data = self._call("GET", "/api/v2/incremental/tickets/cursor.json", params=params)
        users = {u.get("id"): u for u in data.get("users") or []}
        tickets = [parse_ticket(t, users) for t in data.get("tickets") or [] if isinstance(t, dict) and t.get("id")]
        return Page(tickets=tickets, cursor=data.get("after_cursor") or cursor, end=bool(data.get("end_of_stream")))

    def update_many(self, ids: list[str], change: TicketChange) -> str:
        if not ids or len(ids) > MAX_IDS:
            raise HelpdeskError(f"update_many takes 1 to {MAX_IDS} tickets, not {len(ids)}", retryable=False)
        data = self._call("PUT", "/api/v2/tickets/update_many.json", params={"ids": ",".join(ids)},
                          json={"ticket": ticket_body(change)})
        job = data.get("job_status") or {}
        if not job.get("id"):
            raise HelpdeskError("no job in Zendesk's answer", retryable=True)
        return str(job["id"])

    def jobs(self, job_ids: list[str]) -> list[JobState]:
        states = []
        for start in range(0, len(job_ids), MAX_IDS):
            data = self._call("GET", "/api/v2/job_statuses/show_many.json",
                              params={"ids": ",".join(job_ids[start:start + MAX_IDS])})
            states += [_job(j) for j in data.get("job_statuses") or [] if isinstance(j, dict) and j.get("id")]
        return states

    def show_many(self, ids: list[str]) -> list[RemoteTicket]:
        found = []
        for start in range(0, len(ids), MAX_IDS):
            data = self._call("GET", "/api/v2/tickets/show_many.json",
                              params={"ids": ",".join(ids[start:start + MAX_IDS]), "include": "users"})
            users = {u.get("id"): u for u in data.get("users") or []}
            found += [parse_ticket(t, users) for t in data.get("tickets") or [] if isinstance(t, dict) and t.get("id")]
        return found

    def create_parent(self, subject: str, body: str, tags: list[str]) -> str:
        data = self._call("POST", "/api/v2/tickets.json", json={"ticket": {
            "subject": subject, "type": "problem", "tags": tags, "comment": {"body": body, "public": False}}})
        ticket = data.get("ticket") or {}
        if not ticket.get("id"):
            raise HelpdeskError("no ticket in Zendesk's answer", retryable=True)
        return str(ticket["id"])


    def comment(self, ticket_id: str, body: str, tags: list[str]) -> str:
        data = self._call("PUT", f"/api/v2/tickets/{int(ticket_id)}.json", json={"ticket": {
            "comment": {"body": body, "public": True}, "additional_tags": tags}})
        audit = data.get("audit") or {}
        return f"{ticket_id}:{audit.get('id', '')}"


def _job(data: dict) -> JobState:
    status = data.get("status")
    results = []
    for item in data.get("results") or []:
        if not isinstance(item, dict) or item.get("id") is None:
            continue
        ok = "error" not in item and item.get("success", True) is not False   # a failure: {id, error, details}
        error = None if ok else str(item.get("details") or item.get("error") or "failed")[:300]
        results.append(TicketResult(id=str(item["id"]), ok=ok, error=error))
    return JobState(id=str(data["id"]), done=status in ("completed", "failed", "killed"),
                    failed=status in ("failed", "killed"), error=(data.get("message") or status) if status in
                    ("failed", "killed") else None, results=results)


def _retry_after(response: requests.Response) -> float | None:
    try:
        return max(float(response.headers.get("Retry-After", "")), 0.0)
    except ValueError:
        return None


def _reason(data: Any) -> str:
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            return str(error.get("title") or error.get("message") or "")
        return str(data.get("description") or error or "")
    return ""
