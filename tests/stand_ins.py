"""Loopback stand-ins for Slack (HTTP server), SMTP (aiosmtpd) and Twilio (`responses`)."""
# Use in a test module:  from .stand_ins import slack_server, smtp_server, twilio_api  # noqa: F401
from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses
from aiosmtpd.controller import Controller

SLACK_TOKEN = "xoxb-test-token"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-test-token"
TWILIO_BASE = "https://twilio.test"
HANG_LIMIT = 10.0   # a hanging reply never outlives this, even if the test forgets to stop


def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Slack -----------------------------------------------------------------------------------

@dataclass
class SlackRequest:
    method: str                      # "chat.postMessage"
    headers: dict
    params: dict                     # JSON body, form body and query string, merged


@dataclass
class _Reply:
    status: int = 200
    body: dict | str | None = None
    headers: dict = field(default_factory=dict)
    hang: bool = False


class SlackStandIn:
    """A Slack Web API on 127.0.0.1: plausible answers, recorded requests, scripted failures."""

    def __init__(self, token: str = SLACK_TOKEN):
        self.token = token
        self.requests: list[SlackRequest] = []
        self.channels: dict[str, str] = {}          # name -> id, as conversations.create made them
        self.archived: set[str] = set()             # channel ids conversations.archive archived
        self.messages: dict[tuple[str, str], dict] = {}  # (channel, ts) -> message, for conversations.history
        self._scripted: dict[str, deque[_Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _SlackHandler)
        self._server.daemon_threads = True
        self._server.stand_in = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def start(self) -> "SlackStandIn":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def reply(self, method: str, *, status: int = 200, body: dict | str | None = None,
              headers: dict | None = None, hang: bool = False) -> None:
        """Script the next answer to `method` (queued: one call each)."""
        with self._lock:
            self._scripted[method].append(_Reply(status, body, headers or {}, hang))

    def calls(self, method: str) -> list[SlackRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method]

    def answer(self, request: SlackRequest) -> _Reply:
        with self._lock:
            self.requests.append(request)
            if self._scripted[request.method]:
                return self._scripted[request.method].popleft()
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _Reply(body={"ok": False, "error": "invalid_auth"})
        return _Reply(body=self._default(request.method, request.params))

    def _default(self, method: str, params: dict) -> dict:
        n = next(self._counter)
        channel = params.get("channel", "")
        if method == "chat.postMessage":
            if channel.startswith("U"):            # a user id: Slack posts in the DM
                channel = "D" + channel[1:]
            return {"ok": True, "channel": channel, "ts": f"1795000000.{n:06d}",
                    "message": {"text": params.get("text")}}
        if method == "chat.update":
            return {"ok": True, "channel": channel, "ts": params.get("ts"),
                    "text": params.get("text")}
        if method == "conversations.create":
            name = params.get("name", "")
            with self._lock:
                if name in self.channels:
                    return {"ok": False, "error": "name_taken"}
                self.channels[name] = f"C{n:08d}"
            return {"ok": True, "channel": {"id": self.channels[name], "name": name}}
        if method == "conversations.list":
            with self._lock:
                found = [{"id": cid, "name": name} for name, cid in self.channels.items()]
            return {"ok": True, "channels": found, "response_metadata": {"next_cursor": ""}}
        if method in ("conversations.invite", "conversations.setTopic"):
            return {"ok": True, "channel": {"id": channel, "topic": {"value": params.get("topic")}}}
        if method == "views.open":
            if not params.get("trigger_id"):
                return {"ok": False, "error": "invalid_trigger_id"}
            view = params.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            return {"ok": True, "view": {"id": f"V{n:08d}", **(view or {})}}
        if method == "conversations.archive":
            with self._lock:
                if channel in self.archived:
                    return {"ok": False, "error": "already_archived"}
                self.archived.add(channel)
            return {"ok": True}
        if method in ("conversations.history", "conversations.replies"):
            with self._lock:
                found = self.messages.get((channel, params.get("latest") or params.get("ts") or ""))
            return {"ok": True, "messages": [found] if found else [], "has_more": False}
        return {"ok": False, "error": "unknown_method"}


class _SlackHandler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):   # noqa: A002 - keep the test output quiet
        pass

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def _handle(self):
        stand_in: SlackStandIn = self.server.stand_in
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query))
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("application/json"):
            params.update(json.loads(raw or b"{}"))
        elif kind.startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(raw.decode()))
        method = url.path.rsplit("/", 1)[-1]
        reply = stand_in.answer(SlackRequest(method, dict(self.headers.items()), params))
        if reply.hang:
            stand_in._release.wait(HANG_LIMIT)
        body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body or {"ok": True})
        data = body.encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8"
                             if not isinstance(reply.body, str) else "text/html")
            self.send_header("Content-Length", str(len(data)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:   # the client gave up (timeout test)
            pass


@pytest.fixture
def slack_server():
    """A started SlackStandIn; `slack_server.base_url` goes into SlackChannel(base_url=…)."""
    server = SlackStandIn().start()
    yield server
    server.stop()


# --- SMTP ------------------------------------------------------------------------------------

@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    def parse(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.content)


class RecordingHandler:
    """aiosmtpd handler: keeps every message; `reject_rcpt`/`reject_data` script refusals."""

    def __init__(self):
        self.received: list[ReceivedMail] = []
        self.reject_rcpt: dict[str, str] = {}     # address -> "451 4.3.0 try later"
        self.reject_data: dict[str, str] = {}     # address -> "554 5.7.1 rejected"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject_rcpt:
            return self.reject_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            if address in self.reject_data:
                return self.reject_data[address]
        self.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos),
                                          envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


class LoopbackController(Controller):
    """aiosmtpd's Controller on a port the OS picks (port=0), with the real port read back."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpStandIn:
    def __init__(self):
        self.handler = RecordingHandler()
        self.controller = LoopbackController(self.handler, hostname="127.0.0.1", port=0,
                                             server_hostname="smtp.test")
        self.host = "127.0.0.1"

    @property
    def port(self) -> int:
        return self.controller.port

    @property
    def received(self) -> list[ReceivedMail]:
        return self.handler.received

    def start(self) -> "SmtpStandIn":
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line at INFO
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_server():
    """A started SMTP server on 127.0.0.1 (random port): `.host`, `.port`, `.received`."""
    server = SmtpStandIn().start()
    yield server
    server.stop()


# --- Twilio ----------------------------------------------------------------------------------

class TwilioStandIn:
    """Twilio's Messages and Calls endpoints under TWILIO_BASE, through `responses` (no socket at all).

    `requests` are the text messages asked for, `calls` the calls placed (each a PreparedRequest);
    `reply` / `reply_call` script the next answer of each.
    """

    def __init__(self, mock: responses.RequestsMock, account_sid: str = TWILIO_SID):
        self.mock = mock
        self.base_url = TWILIO_BASE
        self.account_sid = account_sid
        self.url = f"{TWILIO_BASE}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.calls_url = f"{TWILIO_BASE}/2010-04-01/Accounts/{account_sid}/Calls.json"
        self.requests: list[requests.PreparedRequest] = []
        self.calls: list[requests.PreparedRequest] = []
        self._scripted: deque = deque()
        self._scripted_calls: deque = deque()
        self._counter = itertools.count(1)
        mock.add_callback(responses.POST, self.url, callback=self._answer)
        mock.add_callback(responses.POST, self.calls_url, callback=self._answer_call)

    def reply(self, status: int = 201, body: dict | Exception | None = None) -> None:
        """Script the next answer: a status and JSON body, or an exception to raise."""
        self._scripted.append((status, body))

    def reply_call(self, status: int = 201, body: dict | Exception | None = None) -> None:
        """Script the next answer to Calls.json, as `reply` does for messages."""
        self._scripted_calls.append((status, body))

    def form(self, index: int = -1) -> dict:
        return dict(parse_qsl(self.requests[index].body))

    def call_form(self, index: int = -1) -> dict:
        return dict(parse_qsl(self.calls[index].body))

    def _answer(self, request):
        self.requests.append(request)
        status, body = self._scripted.popleft() if self._scripted else (201, None)
        if isinstance(body, Exception):
            raise body
        if body is None:
            form = dict(parse_qsl(request.body))
            body = {"sid": f"SM{next(self._counter):032x}", "status": "queued",
                    "to": form.get("To"), "from": form.get("From"), "body": form.get("Body"),
                    "messaging_service_sid": form.get("MessagingServiceSid"),
                    "account_sid": self.account_sid}
        return status, {"Content-Type": "application/json"}, json.dumps(body)

    def _answer_call(self, request):
        self.calls.append(request)
        status, body = self._scripted_calls.popleft() if self._scripted_calls else (201, None)
        if isinstance(body, Exception):
            raise body
        if body is None:
            form = dict(parse_qsl(request.body))
            body = {"sid": f"CA{next(self._counter):032x}", "status": "queued", "direction": "outbound-api",
                    "to": form.get("To"), "from": form.get("From"), "account_sid": self.account_sid,
                    "api_version": "2010-04-01"}
        return status, {"Content-Type": "application/json"}, json.dumps(body)


@pytest.fixture
def twilio_api():
    """A TwilioStandIn; every other URL fails loudly, nothing reaches the network."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield TwilioStandIn(mock)
