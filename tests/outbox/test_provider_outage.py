"""A provider down for five minutes: SMTP refusing (451, then connection refused) and Twilio's REST API
answering 503 and then not answering at all (a real read timeout), through the real channel code
against loopback stand-ins. Messages wait and retry with backoff, the broadcast shows them waiting,
none fails for good, every one goes exactly once when the provider is back; pages keep escalating
meanwhile; the status page keeps answering. The clock is moved, never waited for."""
from __future__ import annotations

import itertools
import json
import statistics
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import func, select

from incident import clock, worker
from incident.broadcast.sender import Sender
from incident.broadcast.service import prepare_due
from incident.extensions import db
from incident.outbox.channels import SendResult
from incident.outbox.channels.email import SmtpEmail
from incident.outbox.channels.sandbox import SandboxChannel
from incident.outbox.channels.slack import SlackChannel
from incident.outbox.channels.sms import TwilioSms
from incident.outbox.dispatch import MAX_ATTEMPTS, backoff, outcome, retry_wait
from incident.outbox.models import Delivery

from ..helpers import POLICY, add_customers, declare, logged_in
from ..stand_ins import SLACK_TOKEN, TWILIO_SID, closed_port

OUTAGE = timedelta(minutes=5)
STEP = 5            # seconds the clock moves between two dispatcher runs (the worker ticks every second or so)
TIMEOUT = 0.3       # the Twilio client's timeout in these tests (5 s in production): a real read timeout
FAST = {"email": 1000.0, "sms": 1000.0, "slack": 1000.0, "ticket": 1000.0}


# --- a Twilio REST API on loopback that can be up, answer 503, or hang ------------------------------------

class TwilioLoopback:
    """Messages.json on 127.0.0.1: `mode` is "up" (201 and a SID), "503" or "hang" (no answer until released)."""

    def __init__(self):
        self.mode = "up"
        self.accepted: list[dict] = []      # forms of the messages it took (what a phone would receive)
        self.refused = 0                     # requests answered 503 or left hanging
        self._lock = threading.Lock()
        self._sids = itertools.count(1)
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _TwilioHandler)
        self._server.daemon_threads = True
        self._server.stand_in = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "TwilioLoopback":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def answer(self, form: dict) -> tuple[int, dict] | None:
        with self._lock:
            if self.mode != "up":
                self.refused += 1
                return (503, {"message": "Service unavailable", "status": 503}) \
                    if self.mode == "503" else None
            self.accepted.append(form)
            return 201, {"sid": f"SM{next(self._sids):032x}", "status": "queued", "to": form.get("To"),
                         "from": form.get("From"), "body": form.get("Body"), "account_sid": TWILIO_SID}


class _TwilioHandler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):   # noqa: A002 - keep the test output quiet
        pass

    def do_POST(self):
        stand_in: TwilioLoopback = self.server.stand_in
        form = dict(parse_qsl(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()))
        reply = stand_in.answer(form) if self.path.endswith("/Messages.json") else (404, {"message": "not found"})
        if reply is None:                    # hang: the client times out and gives up first
            stand_in._release.wait(10)
            return
        data = json.dumps(reply[1]).encode()
        try:
            self.send_response(reply[0])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass


@pytest.fixture
def twilio_loopback():
    server = TwilioLoopback().start()
    yield server
    server.stop()


def real_sms(twilio: TwilioLoopback) -> TwilioSms:
    return TwilioSms(TWILIO_SID, "secret", from_number="+15005550006", base_url=twilio.base_url, timeout=TIMEOUT)


# --- helpers ---------------------------------------------------------------------------------------------

def statuses(app, purpose: str) -> dict[str, int]:
    with app.app_context():
        counts = dict(db.session.execute(select(Delivery.status, func.count()).where(Delivery.purpose == purpose)
                                         .group_by(Delivery.status)).tuples().all())
        db.session.remove()
        return counts


def test_the_retry_policy_outlasts_a_five_minute_outage():
    """Every try but the last waits its backoff: a row gives up only after the waits add up to well over
    five minutes (5 s, 10 s, … 320 s: 10 min 35 s), however long each failed try itself took."""
    waits = [backoff(attempt) for attempt in range(1, MAX_ATTEMPTS)]
    assert sum(waits, timedelta()) > 2 * OUTAGE
    now = clock.utcnow()
    down = SendResult(ok=False, error="503", retryable=True)
    assert all(outcome(attempt, down, False, now)["status"] == "queued" for attempt in range(1, MAX_ATTEMPTS))
    assert outcome(MAX_ATTEMPTS, down, False, now)["status"] == "failed"


def test_a_provider_asking_for_one_second_again_and_again_cannot_use_up_the_tries():
    """503 with Retry-After: 1 on every try (Zendesk and webhook targets pass it on): the waits are still
    the backoff's, so giving up still takes over ten minutes; a longer Retry-After (a 429's 30 s) is kept."""
    now, waited = clock.utcnow(), timedelta()
    busy = SendResult(ok=False, error="503", retryable=True, retry_after=1)
    for attempt in range(1, MAX_ATTEMPTS):
        row = outcome(attempt, busy, False, now + waited)
        assert row["status"] == "queued"
        waited = row["next_attempt_at"] - now
    assert waited > 2 * OUTAGE
    assert retry_wait(1, 30) == timedelta(seconds=30) and retry_wait(1, None) == backoff(1) == timedelta(seconds=5)
    assert retry_wait(7, 1) == backoff(7) == timedelta(seconds=320)


# --- a broadcast through five minutes of SMTP and Twilio down --------------------------------------------

EMAILS = [f"c{n}@example.com" for n in range(4)]
PHONES = [f"+39347100{n:04d}" for n in range(4)]


@pytest.fixture
def outage_broadcast(app, api, frozen, smtp_server, twilio_loopback, monkeypatch):  # noqa: F811
    """Four email and four SMS customers of `login`, an apology sent, the real channels pointed at the
    loopback stand-ins, and a dispatcher (rates high: pacing is not under test)."""
    monkeypatch.setitem(app.config, "CHANNEL_RATE_LIMITS", FAST)
    add_customers(app, *({"name": f"E{n}", "email": email, "channels": ["email"], "services": ["login"]}
                         for n, email in enumerate(EMAILS)),
                  *({"name": f"S{n}", "phone": phone, "channels": ["sms"], "services": ["login"]}
                    for n, phone in enumerate(PHONES)))
    incident = declare(api, services=["login"])
    created = api.post(f"/api/v1/incidents/{incident['id']}/broadcasts", json={
        "kind": "apology", "channels": ["email", "sms"], "audience": {"service_subscribers": True}})
    assert created.status_code == 201, created.get_json()
    email = SmtpEmail(smtp_server.host, smtp_server.port, mail_from="Status <status@tocsin.test>")
    app.extensions["tocsin_channels"] = {"email": email, "sms": real_sms(twilio_loopback),
                                         **{name: SandboxChannel(name) for name in ("slack", "ticket", "voice")}}
    sender = Sender(app, threads=8)
    yield incident, created.get_json()["id"], sender
    sender.close()
    app.extensions.pop("tocsin_channels", None)


def run_dispatcher(app, sender) -> None:
    with app.app_context():
        prepare_due()
        db.session.remove()
    sender.run(budget=30)


def test_a_broadcast_waits_out_five_minutes_of_smtp_and_twilio_down_and_goes_once(
        app, api, client, make_user, outage_broadcast, smtp_server, twilio_loopback):  # noqa: F811
    incident, broadcast_id, sender = outage_broadcast
    smtp, twilio, email = smtp_server, twilio_loopback, app.extensions["tocsin_channels"]["email"]
    port = email.port
    # First half: SMTP answers 451 to every recipient, Twilio 503.
    smtp.handler.reject_rcpt.update({address: "451 4.3.0 Mail server temporarily unavailable" for address in EMAILS})
    twilio.mode = "503"
    started = clock.utcnow()
    errors_seen: set[str] = set()
    while clock.utcnow() - started < OUTAGE:
        if clock.utcnow() - started >= OUTAGE / 2 and twilio.mode == "503":
            email.port = closed_port()          # second half: nothing listens, Twilio does not answer
            twilio.mode = "hang"
        run_dispatcher(app, sender)
        assert statuses(app, "broadcast") == {"queued": 8}      # waiting, none failed for good
        body = api.get(f"/api/v1/broadcasts/{broadcast_id}").get_json()
        assert body["status"] == "sending" and body["counts"]["queued"] == 8 and body["counts"]["failed"] == 0
        errors_seen |= {d["reason"] for d in api.get(f"/api/v1/broadcasts/{broadcast_id}/deliveries")
                        .get_json()["items"] if d["reason"]}
        clock.advance(seconds=STEP)
    assert smtp.received == [] and twilio.accepted == []
    assert {"smtp 451", "smtp connection refused", "503", "timeout"} <= errors_seen, errors_seen
    # Backoff, not hammering: each row was tried at 0, 5, 15, 35, 75 and 155 s (six times) in the five minutes.
    assert twilio.refused == 6 * len(PHONES)
    staff = logged_in(client, make_user, role="viewer")
    page = staff.get(f"/incidents/{incident['id']}").get_data(as_text=True)
    assert 'data-count="queued">8<' in page and 'data-count="failed">0<' in page
    listed = staff.get(f"/broadcasts/{broadcast_id}/deliveries").get_data(as_text=True)
    assert listed.count('<span class="status queued">queued</span>') == 8
    assert '<td class="reason">smtp connection refused</td>' in listed and '<td class="reason">timeout</td>' in listed

    # The providers are back: the next tries (at 315 s) go, each message once.
    smtp.handler.reject_rcpt.clear()
    email.port, twilio.mode = port, "up"
    for _ in range(20):
        run_dispatcher(app, sender)
        if statuses(app, "broadcast") == {"sent": 8}:
            break
        clock.advance(seconds=STEP)
    assert statuses(app, "broadcast") == {"sent": 8}
    assert clock.utcnow() - started <= OUTAGE + timedelta(seconds=20)
    assert Counter(address for mail in smtp.received for address in mail.rcpt_tos) == Counter(EMAILS)
    assert Counter(form["To"] for form in twilio.accepted) == Counter(PHONES)
    body = api.get(f"/api/v1/broadcasts/{broadcast_id}").get_json()
    assert body["status"] == "done" and body["counts"]["sent"] == 8
    with app.app_context():
        assert set(db.session.scalars(select(Delivery.attempts).where(Delivery.purpose == "broadcast"))) == {7}
    run_dispatcher(app, sender)                 # nothing left: nothing again
    assert len(smtp.received) == 4 and len(twilio.accepted) == 4


# --- pages during the same outage -------------------------------------------------------------------------

def test_an_sms_provider_down_does_not_stop_escalation(app, api, setup, slack_server, twilio_loopback):  # noqa: F811
    """Twilio down for five minutes from the moment L1 is paged: L1's Slack page goes at once, its SMS
    waits and retries; L1's two-minute deadline still fires and pages L2 on Slack and by email; when
    Twilio is back every SMS page goes, once each."""
    policy = json.loads(json.dumps(POLICY))
    policy["levels"][0]["ack_timeout_seconds"] = 120
    assert setup.put("/api/v1/escalation-policies/default", json=policy).status_code == 200
    sandbox = {name: SandboxChannel(name) for name in ("email", "ticket", "voice")}
    app.extensions["tocsin_channels"] = {"slack": SlackChannel(SLACK_TOKEN, base_url=slack_server.base_url),
                                         "sms": real_sms(twilio_loopback), **sandbox}
    try:
        twilio_loopback.mode = "503"
        incident_id = declare(api)["id"]
        started = clock.utcnow()
        assert api.post(f"/api/v1/incidents/{incident_id}/escalate", json={}).status_code == 200
        while clock.utcnow() - started < OUTAGE:
            if clock.utcnow() - started >= OUTAGE / 2:
                twilio_loopback.mode = "hang"
            worker.tick(app)
            assert "failed" not in statuses(app, "page")
            clock.advance(seconds=STEP)
        level = api.get(f"/api/v1/incidents/{incident_id}").get_json()["escalation"]["level"]
        assert level == "L2"                                            # the deadline fired on time
        assert sorted(c.params["channel"] for c in slack_server.calls("chat.postMessage")) == ["UAMY", "UBOB"]
        assert [to for to, _ in sandbox["email"].sent] == ["bob@example.com"]
        assert twilio_loopback.accepted == [] and statuses(app, "page").get("queued") == 2

        twilio_loopback.mode = "up"
        for _ in range(40):     # L1's SMS is tried again at 315 s; L2's, first tried at 120 s, at 120 + 315 s
            worker.tick(app)
            if statuses(app, "page").get("queued", 0) == 0:
                break
            clock.advance(seconds=STEP)
        assert clock.utcnow() - started == timedelta(seconds=120 + 315)
        assert statuses(app, "page") == {"sent": 5}
        assert Counter(form["To"] for form in twilio_loopback.accepted) == Counter(["+393471111111", "+393472222222"])
        assert len(slack_server.calls("chat.postMessage")) == 2       # Slack pages went once, not again
    finally:
        app.extensions.pop("tocsin_channels", None)


# --- the status page while the dispatcher retries against a provider that does not answer ------------------

def test_the_status_page_keeps_answering_while_the_dispatcher_retries(
        app, api, client, frozen, twilio_loopback, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "CHANNEL_RATE_LIMITS", FAST)
    add_customers(app, *({"name": f"S{n}", "phone": f"+39347200{n:04d}", "channels": ["sms"], "services": ["login"]}
                         for n in range(40)))
    incident = declare(api, services=["login"])
    assert api.post(f"/api/v1/incidents/{incident['id']}/broadcasts", json={
        "kind": "apology", "channels": ["sms"], "audience": {"service_subscribers": True}}).status_code == 201
    app.extensions["tocsin_channels"] = {"sms": real_sms(twilio_loopback),
                                         **{name: SandboxChannel(name) for name in ("email", "slack", "ticket",
                                                                                    "voice")}}
    twilio_loopback.mode = "hang"
    sender, stop, failures, runs = Sender(app, threads=20), threading.Event(), [], []

    def dispatcher():
        try:
            while not stop.is_set():
                run_dispatcher(app, sender)
                runs.append(1)
                clock.advance(seconds=STEP)
        except Exception as error:   # noqa: BLE001 - reported by the test below
            failures.append(error)

    thread = threading.Thread(target=dispatcher, daemon=True)
    thread.start()
    timings, answers = [], Counter()
    try:
        # A few hundred at least, and on until the dispatcher has been through three rounds of tries.
        until = time.monotonic() + 20       # a bound, not a deadline waited for
        while len(timings) < 300 or (len(runs) < 3 and time.monotonic() < until):
            began = time.perf_counter()
            answers[client.get("/status" if len(timings) % 3 else "/api/v2/summary.json").status_code] += 1
            timings.append(time.perf_counter() - began)
            stop.wait(0.003)                # a steady load of visitors, not a busy loop starving the dispatcher
    finally:
        stop.set()
        thread.join(timeout=30)
        sender.close()
        app.extensions.pop("tocsin_channels", None)
    assert answers == {200: len(timings)} and not failures and len(runs) >= 3
    assert twilio_loopback.refused > 40 and statuses(app, "broadcast").get("failed", 0) == 0
    timings.sort()
    print(f"\n/status during retries: {len(timings)} requests, median {statistics.median(timings) * 1000:.1f} ms, "
          f"p99 {timings[int(len(timings) * 0.99) - 1] * 1000:.1f} ms, max {timings[-1] * 1000:.1f} ms; "
          f"{twilio_loopback.refused} Twilio requests timed out meanwhile")
