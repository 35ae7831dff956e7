"""A loopback stand-in for the Zendesk Support REST API v2 (the parts Tocsin's connector uses).

Use in a test module:  from ..zendesk_stand_in import zendesk  # noqa: F401

It is a real HTTP server on 127.0.0.1 (port 0, daemon thread), like SlackStandIn in tests/stand_ins.py:
every request is recorded in `requests`, failures are scripted with `fail_next` / `fail_ticket`, and the
rate limiter reads an injectable `clock` so tests move time by hand instead of sleeping.

Auth: HTTP Basic "{email}/token" : token, else 401 {"error": "Couldn't authenticate you"}.

Endpoints (JSON, all under /api/v2):
  POST /tickets.json                               201 {"ticket": {...}}
  GET  /tickets/{id}.json                          {"ticket": {...}} | 404 {"error": "RecordNotFound", ...}
  GET  /tickets/show_many.json?ids=1,2[&include=users]
                                                   {"tickets": [...], "users": [...] (only with include=users)}
  PUT  /tickets/update_many.json?ids=1,2           {"job_status": {... "status": "queued" ...}}
  GET  /job_statuses/{id}.json                     {"job_status": {...}} | 404
  GET  /job_statuses/show_many.json?ids=a,b        {"job_statuses": [...]} (unknown ids left out)
  GET  /incremental/tickets/cursor.json?start_time=<epoch> | ?cursor=<opaque> [&per_page=N][&include=users]
  anything else                                    404 {"error": "InvalidEndpoint", "description": "Not found"}
`ids` lists hold at most `max_ids` (100, as Zendesk) ids; more, or none, is a 400 with an error body.

Jobs: update_many answers `queued`; each GET of the job (single or show_many) advances it one step:
`working` (progress rising) until the `job_polls`-th poll, which makes it `completed` and applies every change
at once under the lock. Whether a ticket fails is decided at completion (unknown id, or `fail_ticket`).
Job result entries follow Zendesk's job_statuses reference (JobStatusResultObject = UpdateResourceResult |
FailedResult); a failure is NOT the update shape with success false:
  updated:  {"id": 1, "action": "update", "success": true, "status": "Updated"}
  failed:   {"id": 9, "index": 2, "error": "TicketUpdateFailed" | "RecordNotFound", "details": "..."}
            (`index` is the id's position in the request's ids; there is no "success" key, so read failure
            as `"error" in result` or `result.get("success") is not True`)

Incremental cursor export: tickets with updated_at >= start_time, ordered by (updated_at, id); the cursor is
base64 of "updated_epoch:id" (the last ticket returned) and resumes strictly after it. A ticket updated after a
cursor was made comes back on a later page. When nothing is left the page is empty, end_of_stream is true and
after_cursor is still there to use again later.

Rate limit (only when `requests_per_minute` is set): more than that many requests in any 60 s window of
`clock()` gives 429, Retry-After: <whole seconds until a slot frees, >= 1>, {"error": "APIRateLimitExceeded"};
rejected requests are not counted and change nothing. Every answer then carries X-Rate-Limit and
X-Rate-Limit-Remaining. Scripted `fail_next` answers come before the limiter and are not counted either.

Webhooks: `sign_webhook` gives X-Zendesk-Webhook-Signature, base64(HMAC-SHA256(secret, timestamp + body)).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

ZD_EMAIL = "agent@example.com"
ZD_TOKEN = "zd-test-token"

BASE_TIME = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)   # the first ticket's created_at/updated_at
TIME_STEP = timedelta(minutes=1)                                # each later stamp is one step after the latest
RATE_WINDOW = 60.0
DEFAULT_RATE_LIMIT_HEADER = 700
MAX_PER_PAGE = 1000


def sign_webhook(secret: str, body: bytes, timestamp: str) -> str:
    """Zendesk's webhook signature: base64(HMAC-SHA256(secret, timestamp + body))."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | datetime) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def encode_cursor(updated_epoch: int, ticket_id: int) -> str:
    return base64.urlsafe_b64encode(f"{updated_epoch}:{ticket_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(updated_epoch, id) of the last ticket a page returned; ValueError when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        updated, ticket_id = text.split(":")
        return int(updated), int(ticket_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(cursor) from exc


@dataclass
class ZdRequest:
    method: str                      # "PUT"
    path: str                        # "/api/v2/tickets/update_many.json" (no query string)
    query: dict[str, str]
    body: dict | None                # parsed JSON body, None when there was none
    headers: dict


@dataclass
class _Reply:
    status: int = 200
    body: dict | None = None
    headers: dict = field(default_factory=dict)


@dataclass
class _Failure:
    status: int
    remaining: int
    path_contains: str
    retry_after: int | None


@dataclass
class _Job:
    id: str
    ticket_ids: list[int]
    changes: dict
    polls: int = 0
    status: str = "queued"
    progress: int = 0
    message: str | None = None
    results: list[dict] | None = None


class _BadRequest(Exception):
    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.body = {"error": error, "description": description}


class _Server(ThreadingHTTPServer):
    request_queue_size = 128     # a worker's 16 threads at once, as Zendesk takes them (the default 5 drops some)


class ZendeskStandIn:
    """Zendesk Support API v2 on 127.0.0.1: tickets, users, update_many jobs, cursor export, scripted failures."""

    def __init__(self, *, email: str = ZD_EMAIL, token: str = ZD_TOKEN, requests_per_minute: int | None = None,
                 job_polls: int = 2, clock: Callable[[], float] = time.monotonic, max_ids: int = 100):
        self.email = email
        self.token = token
        self.requests_per_minute = requests_per_minute
        self.job_polls = max(1, job_polls)
        self.clock = clock
        self.max_ids = max_ids
        self.lock = threading.Lock()
        self.tickets: dict[int, dict] = {}
        self.users: dict[int, dict] = {}
        self.requests: list[ZdRequest] = []
        self.jobs: dict[str, _Job] = {}
        self.failing_tickets: dict[int, tuple[str, str]] = {}     # id -> (error, details)
        self._failures: list[_Failure] = []
        self._accepted: deque[float] = deque()                    # clock() of requests inside the rate window
        self._ticket_ids = itertools.count(1)
        self._user_ids = itertools.count(1001)
        self._audit_ids = itertools.count(9001)
        self._latest = BASE_TIME - TIME_STEP
        self._server = _Server(("127.0.0.1", 0), _ZendeskHandler)
        self._server.daemon_threads = True
        self._server.stand_in = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> "ZendeskStandIn":
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # --- test-side helpers ---------------------------------------------------------------------

    def add_ticket(self, *, id: int | None = None, subject: str = "Cannot log in", description: str = "",  # noqa: A002
                   status: str = "open", tags=(), requester: dict | None = None, created_at: str | None = None,
                   updated_at: str | None = None) -> dict:
        """Put a ticket straight into the store; `requester` {"name","email","phone","locale"} makes a user."""
        with self.lock:
            requester_id = self._user_for(requester)["id"] if requester else None
            if created_at is None and updated_at is None:
                created = updated = self._stamp()
            else:
                created = parse_time(created_at or updated_at)
                updated = parse_time(updated_at or created_at)
                self._note(created)
                self._note(updated)
            ticket = self._store_ticket(id, {
                "subject": subject, "description": description, "status": status, "type": None,
                "problem_id": None, "tags": _dedupe(tags), "requester_id": requester_id,
                "created_at": created, "updated_at": updated,
                "comments": [{"body": description, "public": True}] if description else [],
            })
            return self._ticket_json(ticket)

    def fail_ticket(self, ticket_id: int, error: str = "TicketUpdateFailed",
                    details: str = "Ticket could not be updated") -> None:
        """From now on this ticket fails in every job that completes (FailedResult with error/details)."""
        with self.lock:
            self.failing_tickets[ticket_id] = (error, details)

    def heal_ticket(self, ticket_id: int) -> None:
        """The ticket can be updated again (an agent reopened it)."""
        with self.lock:
            self.failing_tickets.pop(ticket_id, None)

    def fail_next(self, status: int = 503, count: int = 1, *, path_contains: str = "",
                  retry_after: int | None = None) -> None:
        """The next `count` requests whose path contains `path_contains` answer `status` (with Retry-After if given)."""
        with self.lock:
            self._failures.append(_Failure(status, count, path_contains, retry_after))

    def comments_on(self, ticket_id: int, *, public: bool | None = None) -> list[dict]:
        with self.lock:
            comments = self.tickets[ticket_id]["comments"]
            return [dict(c) for c in comments if public is None or c["public"] is public]

    def calls(self, path_contains: str, method: str | None = None) -> list[ZdRequest]:
        with self.lock:
            return [r for r in self.requests
                    if path_contains in r.path and (method is None or r.method == method.upper())]

    # --- request handling (called by the handler thread) ---------------------------------------

    def answer(self, request: ZdRequest) -> _Reply:
        with self.lock:
            self.requests.append(request)
            scripted = self._scripted_failure(request.path)
            if scripted is not None:
                return scripted
            limited = self._rate_limit()
            if limited is not None:
                return limited
            reply = self._authorised(request) or self._route(request)
            if self.requests_per_minute is not None:
                reply.headers["X-Rate-Limit"] = str(self.requests_per_minute)
                reply.headers["X-Rate-Limit-Remaining"] = str(max(0, self.requests_per_minute - len(self._accepted)))
            return reply

    def _scripted_failure(self, path: str) -> _Reply | None:
        for failure in self._failures:
            if failure.remaining > 0 and failure.path_contains in path:
                failure.remaining -= 1
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                error = "APIRateLimitExceeded" if failure.status == 429 else HTTPStatus(failure.status).phrase
                return _Reply(failure.status, {"error": error}, headers)
        return None

    def _rate_limit(self) -> _Reply | None:
        if self.requests_per_minute is None:
            return None
        now = self.clock()
        while self._accepted and self._accepted[0] <= now - RATE_WINDOW:
            self._accepted.popleft()
        if len(self._accepted) >= self.requests_per_minute:
            wait = max(1, math.ceil(self._accepted[0] + RATE_WINDOW - now))
            return _Reply(429, {"error": "APIRateLimitExceeded"}, {
                "Retry-After": str(wait), "X-Rate-Limit": str(self.requests_per_minute),
                "X-Rate-Limit-Remaining": "0"})
        self._accepted.append(now)
        return None

    def _authorised(self, request: ZdRequest) -> _Reply | None:
        expected = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        header = {k.lower(): v for k, v in request.headers.items()}.get("authorization", "")
        if hmac.compare_digest(header.encode(), f"Basic {expected}".encode()):
            return None
        return _Reply(401, {"error": "Couldn't authenticate you"})

    def _route(self, request: ZdRequest) -> _Reply:
        routes = (
            ("POST", r"/api/v2/tickets\.json", self._create_ticket),
            ("PUT", r"/api/v2/tickets/update_many\.json", self._update_many),
            ("GET", r"/api/v2/tickets/show_many\.json", self._show_many_tickets),
            ("GET", r"/api/v2/tickets/(\d+)\.json", self._show_ticket),
            ("PUT", r"/api/v2/tickets/(\d+)\.json", self._update_ticket),
            ("GET", r"/api/v2/job_statuses/show_many\.json", self._show_many_jobs),
            ("GET", r"/api/v2/job_statuses/([^/]+)\.json", self._show_job),
            ("GET", r"/api/v2/incremental/tickets/cursor\.json", self._cursor_export),
        )
        for method, pattern, handler in routes:
            match = re.fullmatch(pattern, request.path)
            if match and request.method == method:
                try:
                    return handler(request, *match.groups())
                except _BadRequest as exc:
                    return _Reply(400, exc.body)
        return _Reply(404, {"error": "InvalidEndpoint", "description": "Not found"})

    # --- endpoints (lock held) -----------------------------------------------------------------

    def _create_ticket(self, request: ZdRequest) -> _Reply:
        data = (request.body or {}).get("ticket")
        if not isinstance(data, dict):
            raise _BadRequest("InvalidValue", "Expected a 'ticket' object")
        comment = data.get("comment") or {}
        body = comment.get("body") or comment.get("html_body") or ""
        if not body:
            return _Reply(422, {"error": "RecordInvalid", "description": "Record validation errors",
                                "details": {"description": [{"description": "Description: cannot be blank"}]}})
        requester_id = data.get("requester_id")
        if isinstance(data.get("requester"), dict):
            requester_id = self._user_for(data["requester"])["id"]
        stamp = self._stamp()
        ticket = self._store_ticket(None, {
            "subject": data.get("subject") or body[:80], "description": body,
            "status": data.get("status") or "new", "type": data.get("type"), "problem_id": data.get("problem_id"),
            "tags": _dedupe(data.get("tags") or ()), "requester_id": requester_id,
            "created_at": stamp, "updated_at": stamp,
            "comments": [{"body": body, "public": bool(comment.get("public", True))}],
        })
        return _Reply(201, {"ticket": self._ticket_json(ticket)},
                      {"Location": f"{self.url}/api/v2/tickets/{ticket['id']}.json"})

    def _show_ticket(self, request: ZdRequest, ticket_id: str) -> _Reply:
        ticket = self.tickets.get(int(ticket_id))
        if ticket is None:
            return _Reply(404, {"error": "RecordNotFound", "description": "Not found"})
        return _Reply(body={"ticket": self._ticket_json(ticket)})

    def _update_ticket(self, request: ZdRequest, ticket_id: str) -> _Reply:
        """PUT /tickets/{id}.json: a comment and tags on one ticket, at once (Zendesk answers the ticket and an audit)."""
        ticket = self.tickets.get(int(ticket_id))
        if ticket is None:
            return _Reply(404, {"error": "RecordNotFound", "description": "Not found"})
        data = (request.body or {}).get("ticket")
        if not isinstance(data, dict):
            raise _BadRequest("InvalidValue", "Expected a 'ticket' object")
        if int(ticket_id) in self.failing_tickets:
            error, details = self.failing_tickets[int(ticket_id)]
            return _Reply(422, {"error": "RecordInvalid", "description": details})
        comment = data.get("comment") or {}
        if comment.get("body"):
            ticket["comments"].append({"body": comment["body"], "public": bool(comment.get("public", True))})
        ticket["tags"] = _dedupe([*ticket["tags"], *(data.get("additional_tags") or ())])
        if data.get("status"):
            ticket["status"] = data["status"]
        ticket["updated_at"] = self._stamp()
        audit = next(self._audit_ids)
        return _Reply(body={"ticket": self._ticket_json(ticket), "audit": {"id": audit, "ticket_id": ticket["id"]}})

    def _show_many_tickets(self, request: ZdRequest) -> _Reply:
        ids = [int(i) for i in self._ids(request, numeric=True)]
        found = [self.tickets[i] for i in dict.fromkeys(ids) if i in self.tickets]
        body: dict = {"tickets": [self._ticket_json(t) for t in found]}
        if _includes_users(request):
            body["users"] = self._users_of(found)
        return _Reply(body=body)

    def _update_many(self, request: ZdRequest) -> _Reply:
        ids = [int(i) for i in self._ids(request, numeric=True)]
        changes = (request.body or {}).get("ticket")
        if not isinstance(changes, dict):
            raise _BadRequest("InvalidValue", "Expected a 'ticket' object with the changes")
        job = _Job(uuid.uuid4().hex, ids, json.loads(json.dumps(changes)))
        self.jobs[job.id] = job
        return _Reply(body={"job_status": self._job_json(job)})

    def _show_job(self, request: ZdRequest, job_id: str) -> _Reply:
        job = self.jobs.get(job_id)
        if job is None:
            return _Reply(404, {"error": "RecordNotFound", "description": "Not found"})
        self._advance(job)
        return _Reply(body={"job_status": self._job_json(job)})

    def _show_many_jobs(self, request: ZdRequest) -> _Reply:
        statuses = []
        for job_id in dict.fromkeys(self._ids(request, numeric=False)):
            job = self.jobs.get(job_id)
            if job is not None:
                self._advance(job)
                statuses.append(self._job_json(job))
        return _Reply(body={"job_statuses": statuses})

    def _cursor_export(self, request: ZdRequest) -> _Reply:
        query = request.query
        try:
            per_page = int(query.get("per_page") or MAX_PER_PAGE)
        except ValueError as exc:
            raise _BadRequest("InvalidValue", "per_page must be a number") from exc
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        if query.get("cursor"):
            try:
                position = decode_cursor(query["cursor"])
            except ValueError as exc:
                raise _BadRequest("InvalidPaginationParameter", "Invalid cursor") from exc
        elif query.get("start_time") is not None:
            try:
                position = (int(query["start_time"]), 0)     # everything updated at or after start_time
            except ValueError as exc:
                raise _BadRequest("InvalidValue", "start_time must be an epoch time in seconds") from exc
        else:
            raise _BadRequest("InvalidPaginationParameter", "start_time or cursor is required")
        ordered = sorted(self.tickets.values(), key=lambda t: (epoch(t["updated_at"]), t["id"]))
        after = [t for t in ordered if (epoch(t["updated_at"]), t["id"]) > position]
        page = after[:per_page]
        if page:
            position = (epoch(page[-1]["updated_at"]), page[-1]["id"])
        after_cursor = encode_cursor(*position)
        params = {"cursor": after_cursor}
        if "per_page" in query:
            params["per_page"] = str(per_page)
        if "include" in query:
            params["include"] = query["include"]
        body: dict = {
            "tickets": [self._ticket_json(t) for t in page],
            "after_url": f"{self.url}/api/v2/incremental/tickets/cursor.json?{urlencode(params)}",
            "after_cursor": after_cursor,
            "before_url": None,
            "before_cursor": None,
            "end_of_stream": len(after) <= per_page,
        }
        if _includes_users(request):
            body["users"] = self._users_of(page)
        return _Reply(body=body)

    # --- jobs ----------------------------------------------------------------------------------

    def _advance(self, job: _Job) -> None:
        if job.status == "completed":
            return
        job.polls += 1
        if job.polls < self.job_polls:
            job.status = "working"
            job.progress = len(job.ticket_ids) * job.polls // self.job_polls
            return
        job.results = self._apply(job)
        job.status = "completed"
        job.progress = len(job.ticket_ids)
        job.message = "Completed at " + datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000")

    def _apply(self, job: _Job) -> list[dict]:
        """Apply the job to every ticket it can change, all at once (the caller holds the lock)."""
        changes = job.changes
        stamp = self._stamp()
        results = []
        for index, ticket_id in enumerate(job.ticket_ids):
            ticket = self.tickets.get(ticket_id)
            if ticket is None:
                results.append({"id": ticket_id, "index": index, "error": "RecordNotFound",
                                "details": f"Ticket {ticket_id} not found"})
                continue
            if ticket_id in self.failing_tickets:
                error, details = self.failing_tickets[ticket_id]
                results.append({"id": ticket_id, "index": index, "error": error, "details": details})
                continue
            if "tags" in changes:
                ticket["tags"] = _dedupe(changes["tags"] or ())
            ticket["tags"] = _dedupe([*ticket["tags"], *(changes.get("additional_tags") or ())])
            removed = set(changes.get("remove_tags") or ())
            ticket["tags"] = [tag for tag in ticket["tags"] if tag not in removed]
            for key in ("type", "problem_id", "status", "subject"):
                if key in changes:
                    ticket[key] = changes[key]
            comment = changes.get("comment")
            if isinstance(comment, dict) and (comment.get("body") or comment.get("html_body")):
                ticket["comments"].append({"body": comment.get("body") or comment.get("html_body"),
                                           "public": bool(comment.get("public", True))})
            ticket["updated_at"] = stamp
            results.append({"id": ticket_id, "action": "update", "success": True, "status": "Updated"})
        return results

    def _job_json(self, job: _Job) -> dict:
        return {"id": job.id, "url": f"{self.url}/api/v2/job_statuses/{job.id}.json", "status": job.status,
                "total": len(job.ticket_ids), "progress": job.progress, "message": job.message,
                "results": [dict(r) for r in job.results] if job.results is not None else None}

    # --- store helpers (lock held) -------------------------------------------------------------

    def _ids(self, request: ZdRequest, *, numeric: bool) -> list[str]:
        ids = [part.strip() for part in request.query.get("ids", "").split(",") if part.strip()]
        if not ids:
            raise _BadRequest("InvalidValue", "ids is required")
        if len(ids) > self.max_ids:
            raise _BadRequest("TooManyValues", f"Too many ids: {len(ids)} given, at most {self.max_ids} allowed")
        if numeric and not all(part.isdigit() for part in ids):
            raise _BadRequest("InvalidValue", "ids must be numbers")
        return ids

    def _store_ticket(self, ticket_id: int | None, fields: dict) -> dict:
        if ticket_id is None:
            ticket_id = next(self._ticket_ids)
            while ticket_id in self.tickets:
                ticket_id = next(self._ticket_ids)
        ticket = {"id": ticket_id, **fields}
        self.tickets[ticket_id] = ticket
        return ticket

    def _user_for(self, requester: dict) -> dict:
        email = requester.get("email")
        for user in self.users.values():
            if email and user["email"] == email:
                return user
        user_id = next(self._user_ids)
        user = {"id": user_id, "name": requester.get("name") or email or f"User {user_id}", "email": email,
                "phone": requester.get("phone"), "locale": requester.get("locale") or "en-US"}
        self.users[user_id] = user
        return user

    def _users_of(self, tickets: list[dict]) -> list[dict]:
        ids = dict.fromkeys(t["requester_id"] for t in tickets if t["requester_id"] is not None)
        return [{**self.users[i], "url": f"{self.url}/api/v2/users/{i}.json"} for i in ids if i in self.users]

    def _ticket_json(self, ticket: dict) -> dict:
        return {"id": ticket["id"], "url": f"{self.url}/api/v2/tickets/{ticket['id']}.json",
                "subject": ticket["subject"], "description": ticket["description"], "status": ticket["status"],
                "type": ticket["type"], "problem_id": ticket["problem_id"], "tags": list(ticket["tags"]),
                "requester_id": ticket["requester_id"], "created_at": iso(ticket["created_at"]),
                "updated_at": iso(ticket["updated_at"])}

    def _stamp(self) -> datetime:
        """A time one step after the latest stamp handed out: default times are ordered and deterministic."""
        self._latest += TIME_STEP
        return self._latest

    def _note(self, moment: datetime) -> None:
        self._latest = max(self._latest, moment)


def _dedupe(tags) -> list[str]:
    return list(dict.fromkeys(tags))


def _includes_users(request: ZdRequest) -> bool:
    return "users" in request.query.get("include", "").split(",")


class _ZendeskHandler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):   # noqa: A002 - keep the test output quiet
        pass

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def _handle(self):
        stand_in: ZendeskStandIn = self.server.stand_in
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = None
        reply = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                reply = _Reply(400, {"error": "InvalidJSON", "description": "The request body is not valid JSON"})
        request = ZdRequest(self.command, url.path, dict(parse_qsl(url.query, keep_blank_values=True)),
                            body if isinstance(body, dict) else None, dict(self.headers.items()))
        if reply is None:
            reply = stand_in.answer(request)
        else:
            with stand_in.lock:
                stand_in.requests.append(request)
        data = json.dumps(reply.body if reply.body is not None else {}).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:   # the client gave up
            pass


@pytest.fixture
def zendesk():
    """A started ZendeskStandIn; point the connector at `zendesk.url` with ZD_EMAIL / ZD_TOKEN."""
    stand_in = ZendeskStandIn().start()
    yield stand_in
    stand_in.stop()
