"""Soak: Tocsin under a steady mixed load for a bounded time, the processes' memory watched.

    .venv/bin/python bench/soak.py --postgres                 # 30 minutes on a scratch PostgreSQL database
    .venv/bin/python bench/soak.py --postgres --minutes 3     # a short look

What runs, all on loopback, for --minutes (bounded in time and in count):
  - gunicorn (2 processes × 8 threads) and one `flask worker`, on a scratch database (sandbox channels);
  - ingest: --rate tickets/s (default 200) through POST /api/v1/tickets in batches of a tenth of a second;
  - the status page: --readers threads GETting /status back to back, every latency kept;
  - a broadcast (a status update to the linked requesters) every --broadcast-every seconds (default 300),
    the first one interval in (at the start nobody is linked yet: "Nobody is in this audience.");
  - escalations: an incident declared and escalated every --escalate-every seconds (default 60), each
    level's deadline 60 s, so breaches and next levels keep firing in the worker.
Every 10 s the RSS of each process (gunicorn's master and workers, the worker) is sampled from /proc.
At the end: requests and errors per kind, the status page's p50/p99, tickets taken in, messages sent,
and each process's RSS at the start of the second minute and at the end. Prints; never fails.
Target (issue 15): no error, memory flat, the status page's p99 ≤ 100 ms. A failed request is
printed with its status and body (the first few of each kind); a 503 saying the database is
unavailable is counted apart from errors.

Faults and checks:
  --kill-connections-every S   every S seconds, terminate every connection to the soak's own scratch
                               database (pg_terminate_backend; never the server, never another database)
  --smtp                       email goes to a loopback SMTP stand-in (its own process) that counts the
                               messages each address received, instead of the sandbox
  --email-rate N               CHANNEL_RATE_LIMITS email (default: the product's, 50/s)
  --trace-worker               the worker runs under tracemalloc (one frame; it slows the worker and its
                               RSS is no longer comparable); the lines that grew most after the first
                               minute are printed at the end
After the load stops, the worker is given --drain seconds (120) to empty the outbox, then the
database is read: broadcast messages sent once per (send, customer) (and, with --smtp, no address
received more emails than it has sent rows), nothing left 'sending' or overdue, pages' and
broadcasts' waits, and every escalation deadline that passed fired exactly once, and how late.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_PG_SERVER, stop_child  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

POLICY = {"levels": [{"name": "L1", "targets": [{"user": "oncall@example.com"}], "ack_timeout_seconds": 60,
                      "channels": ["slack", "sms"]},
                     {"name": "engineering", "targets": [{"user": "oncall@example.com"}], "ack_timeout_seconds": 60,
                      "channels": ["slack", "sms", "email"]}], "repeat": 1}
UNAVAILABLE = "database is unavailable"   # in web's 503 body, JSON or plain text (errors.py)
SHOWN_FAILURES = 5                        # per kind of request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_database(postgres: bool, tmp: str) -> tuple[str, tuple | None]:
    if not postgres:
        return f"sqlite:///{tmp}/soak.sqlite3", None
    server = os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_SERVER)
    name = f"tocsin_soak_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(server).set(database=name).render_as_string(hide_password=False), (admin, name)


def flask(env, *args) -> str:
    return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Counts:
    """Requests per kind: ok, errors (the first few kept with their status and body) and 503s that say the
    database is unavailable (what web must answer while it is away: counted apart from errors)."""

    def __init__(self):
        self.lock, self.ok, self.errors, self.unavailable, self.latencies = threading.Lock(), Counter(), Counter(), \
            Counter(), []
        self.failures: dict[str, list[str]] = {}

    def add(self, kind: str, ok: bool, seconds: float | None = None):
        with self.lock:
            (self.ok if ok else self.errors)[kind] += 1
            if seconds is not None and ok:
                self.latencies.append(seconds)

    def fail(self, kind: str, error: Exception):
        if isinstance(error, urllib.error.HTTPError):
            try:
                body = error.read().decode(errors="replace")
            except OSError:
                body = ""
            said = f"{error.code} {' '.join(body.split())[:300]}"
        else:
            said = f"{type(error).__name__}: {str(error)[:200]}"
        with self.lock:
            if isinstance(error, urllib.error.HTTPError) and error.code == 503 and UNAVAILABLE in said:
                self.unavailable[kind] += 1
                return
            self.errors[kind] += 1
            shown = self.failures.setdefault(kind, [])
            if len(shown) < SHOWN_FAILURES:
                shown.append(said)


def call(base, method, path, token=None, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read()


# ---------------------------------------------------------------- the SMTP stand-in (its own process)

def serve_smtp() -> None:
    """aiosmtpd on a free port, answering at once; `counts` on stdin prints {address: messages received}."""
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    received: Counter = Counter()
    lock = threading.Lock()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            with lock:
                received.update(envelope.rcpt_tos)
            return "250 Message accepted for delivery"

    class Loopback(Controller):
        def _trigger_server(self):
            self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()

    asyncio.set_event_loop(asyncio.new_event_loop())
    controller = Loopback(Handler(), hostname="127.0.0.1", port=0, server_hostname="smtp.soak")
    controller.start()
    print(f"PORT {controller.port}", flush=True)
    for line in sys.stdin:
        if line.strip() == "counts":
            with lock:
                print(json.dumps(dict(received)), flush=True)
    controller.stop()


class SmtpStandIn:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve-smtp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the SMTP stand-in did not start: {line!r}")
        self.port = int(line.split()[1])

    def counts(self) -> Counter:
        self.proc.stdin.write("counts\n")
        self.proc.stdin.flush()
        return Counter(json.loads(self.proc.stdout.readline()))

    def stop(self) -> None:
        stop_child(self.proc)


# ---------------------------------------------------------------- the worker under tracemalloc

def traced_worker(path: str) -> None:
    """`flask worker` with tracemalloc on: every minute, the lines whose memory grew most since the first
    minute (warm-up) are written to `path`."""
    tracemalloc.start(1)   # one frame: deeper tracebacks slowed a soak's worker until deadlines fired 97 s late

    def watch():
        time.sleep(60)
        base = tracemalloc.take_snapshot()
        while True:
            time.sleep(60)
            snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
            lines = [f"traced: {tracemalloc.get_traced_memory()[0] / 2**20:.1f} MB now"]
            lines += [f"  {stat}" for stat in snapshot.compare_to(base, "lineno")[:12]]
            Path(path).write_text("\n".join(lines) + "\n")

    threading.Thread(target=watch, daemon=True).start()
    from flask.cli import main as flask_main

    sys.argv = ["flask", "--app", "wsgi", "worker"]
    flask_main()


# ---------------------------------------------------------------- the checks at the end

def drain(engine, seconds: float) -> float:
    """Wait (at most `seconds`) until no customer message or page is queued and due, or sending; how long."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        with engine.connect() as conn:
            left = conn.execute(text(
                "SELECT count(*) FROM deliveries WHERE purpose IN ('broadcast', 'page') AND "
                "(status = 'sending' OR (status = 'queued' AND next_attempt_at <= :now))"),
                {"now": utcnow()}).scalar_one()
        if not left:
            break
        time.sleep(2)
    return time.monotonic() - started


def utcnow():
    from incident.clock import utcnow as now

    return now()


def ts(value):
    """A timestamp as read by plain SQL: aware on PostgreSQL, text on SQLite."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)


def check(engine, smtp: SmtpStandIn | None, email_rate: float) -> list[str]:
    """What the database (and the SMTP stand-in) say about exactly once and promptly."""
    out, now = [], utcnow()
    with engine.connect() as conn:
        q = lambda sql, **kw: conn.execute(text(sql), kw).all()  # noqa: E731
        twice = q("SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE purpose = 'broadcast' "
                  "GROUP BY send_id, customer_id HAVING count(*) > 1) AS d")[0][0]
        by_status = dict(q("SELECT status, count(*) FROM deliveries GROUP BY status"))
        sending = q("SELECT purpose, count(*) FROM deliveries WHERE status = 'sending' GROUP BY purpose")
        stuck = q("SELECT purpose, count(*) FROM deliveries WHERE status = 'sending' AND claimed_at < :cut "
                  "GROUP BY purpose", cut=now - timedelta(seconds=30))
        overdue = q("SELECT purpose, count(*) FROM deliveries WHERE status = 'queued' AND next_attempt_at < :cut "
                    "GROUP BY purpose", cut=now - timedelta(seconds=30))
        retried = q("SELECT purpose, count(*), max(attempts) FROM deliveries WHERE status = 'sent' AND attempts > 1 "
                    "GROUP BY purpose")
        out.append(f"deliveries by status: {by_status}; broadcast rows per (send, customer) > 1: {twice}")
        out.append(f"left 'sending' when the worker stopped: {dict((p, n) for p, n in sending) or 0} (claimed more "
                   f"than 30 s before: {dict((p, n) for p, n in stuck) or 0}); queued and overdue by > 30 s: "
                   f"{dict((p, n) for p, n in overdue) or 0}; sent after more than one claim: "
                   f"{ {p: f'{n} (up to {m} claims)' for p, n, m in retried} or 0}")
        sends = q("SELECT d.send_id, min(s.due_at), count(*), max(d.sent_at), sum(CASE WHEN d.status = 'sent' "
                  "THEN 1 ELSE 0 END) FROM deliveries d JOIN broadcast_sends s ON s.id = d.send_id "
                  "WHERE d.purpose = 'broadcast' GROUP BY d.send_id ORDER BY d.send_id")
        for send_id, due, rows, last, sent in sends:
            took = (ts(last) - ts(due)).total_seconds() if last and due else None
            out.append(f"  broadcast send {send_id}: {rows:,} rows, {sent:,} sent, last "
                       f"{took if took is None else f'{took:.0f} s'} after its send time "
                       f"(at {email_rate:g}/s the rate alone needs {rows / email_rate:.0f} s)")
        pages = q("SELECT created_at, sent_at FROM deliveries WHERE purpose = 'page' AND sent_at IS NOT NULL")
        waits = sorted((ts(sent) - ts(created)).total_seconds() for created, sent in pages)
        if waits:
            out.append(f"pages: {len(waits)} sent, created → sent p50 {statistics.median(waits):.1f} s, "
                       f"max {waits[-1]:.1f} s")
        if smtp is not None:
            received = smtp.counts()
            rows = Counter(dict(q("SELECT recipient, count(*) FROM deliveries WHERE channel = 'email' "
                                  "AND status = 'sent' GROUP BY recipient")))
            held = Counter(dict(q("SELECT recipient, count(*) FROM deliveries WHERE channel = 'email' "
                                  "AND status = 'sending' GROUP BY recipient")))   # in flight when it stopped
            twice = {a: received[a] - rows[a] - held[a] for a in received if received[a] > rows[a] + held[a]}
            fewer = {a: rows[a] - received[a] for a in rows if received[a] < rows[a]}
            out.append(f"SMTP stand-in: {sum(received.values()):,} emails to {len(received):,} addresses; addresses "
                       f"that received more emails than they have rows sent or in flight (a broadcast twice): "
                       f"{len(twice)} ({sum(twice.values())} extra); sent rows the server never saw: "
                       f"{sum(fewer.values())}")
        out += deadlines(q, now)
    return out


def deadlines(q, now) -> list[str]:
    """Every escalation step still running at its deadline (which passed > 10 s ago) is breached by exactly
    one firing: its 'escalation_breached' events are counted, and breached_at - deadline is the lag."""
    steps = q("SELECT incident_id, level_name, round, deadline, breached_at FROM escalation_steps "
              "WHERE skipped IS NULL AND deadline IS NOT NULL AND deadline < :cut "
              "AND (ended_at IS NULL OR ended_at >= deadline)", cut=now - timedelta(seconds=10))
    fired: Counter[tuple] = Counter()
    for incident_id, data in q("SELECT incident_id, data FROM timeline_events WHERE kind = 'escalation_breached'"):
        data = json.loads(data) if isinstance(data, str) else data
        fired[(incident_id, data["level"], data["round"])] += 1
    times = Counter(fired[(i, level, r)] for i, level, r, _, _ in steps)
    lags = sorted((ts(b) - ts(d)).total_seconds() for _, _, _, d, b in steps if b is not None)
    late = q("SELECT count(*) FROM timeline_events WHERE kind = 'deadline_late'")[0][0]
    line = (f"escalation deadlines passed: {len(steps)}; fired once {times.get(1, 0)}, never {times.get(0, 0)}, "
            f"more than once {sum(n for k, n in times.items() if k > 1)}; 'deadline_late' events {late}")
    if lags:
        line += f"; lag p50 {statistics.median(lags):.1f} s, max {lags[-1]:.1f} s"
    return [line]


def worker_log_lines(path: str) -> list[str]:
    text_ = Path(path).read_text(errors="replace") if Path(path).exists() else ""
    kinds: Counter[str] = Counter()
    for line in text_.splitlines():
        for needle in ("database unavailable while", "failed; it runs again", "put back", "past the", "Traceback"):
            if needle in line:
                kinds[needle] += 1
    return [f"worker log: {sum(1 for _ in text_.splitlines()):,} lines; " +
            (", ".join(f"'{k}' ×{n}" for k, n in kinds.items()) or "nothing of note")]


# ---------------------------------------------------------------- the soak

def main() -> None:
    if sys.argv[1:2] == ["--serve-smtp"]:
        return serve_smtp()
    if sys.argv[1:2] == ["--traced-worker"]:
        return traced_worker(sys.argv[2])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--postgres", action="store_true")
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--rate", type=int, default=200, help="tickets per second")
    p.add_argument("--readers", type=int, default=4, help="threads reading the status page back to back")
    p.add_argument("--broadcast-every", type=float, default=300.0)
    p.add_argument("--first-broadcast-after", type=float, default=None,
                   help="seconds (default: --broadcast-every; at 0 nobody is linked yet and the API says so)")
    p.add_argument("--escalate-every", type=float, default=60.0)
    p.add_argument("--kill-connections-every", type=float, default=None, metavar="S",
                   help="terminate every connection to the scratch database every S seconds (PostgreSQL)")
    p.add_argument("--smtp", action="store_true", help="email to a loopback SMTP stand-in that counts per address")
    p.add_argument("--email-rate", type=float, default=None, help="CHANNEL_RATE_LIMITS email (default the product's)")
    p.add_argument("--drain", type=float, default=120.0, help="seconds the worker gets to empty the outbox at the end")
    p.add_argument("--trace-worker", action="store_true", help="run the worker under tracemalloc")
    args = p.parse_args()
    if args.kill_connections_every and not args.postgres:
        p.error("--kill-connections-every needs --postgres")
    tmp = tempfile.mkdtemp(prefix="tocsin-soak-")
    url, cleanup = scratch_database(args.postgres, tmp)
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "soak", "LOG_LEVEL": "WARNING",
           "PUBLIC_BASE_URL": "http://soak.test", "SCHEDULER_TICK_SECONDS": "1",
           "PROMETHEUS_MULTIPROC_DIR": f"{tmp}/prom"}
    os.makedirs(env["PROMETHEUS_MULTIPROC_DIR"])
    for key in ("SLACK_BOT_TOKEN", "TWILIO_ACCOUNT_SID", "SMTP_HOST", "ZENDESK_URL", "CHANNEL_RATE_LIMITS"):
        env.pop(key, None)
    if args.email_rate:
        env["CHANNEL_RATE_LIMITS"] = f"email={args.email_rate:g}"
    email_rate = args.email_rate or 50.0
    smtp = SmtpStandIn() if args.smtp else None
    if smtp is not None:
        env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port), MAIL_FROM="tocsin@soak.test")
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; database {url.split(':')[0]}; "
          f"{args.minutes:g} minutes, {args.rate} tickets/s, {args.readers} status readers; email "
          f"{'to a loopback SMTP stand-in' if smtp else 'sandbox'} at {email_rate:g}/s"
          + (f"; connections killed every {args.kill_connections_every:g} s" if args.kill_connections_every else ""))
    flask(env, "db", "upgrade")
    flask(env, "users", "create", "lead@example.com", "--role", "admin")
    flask(env, "users", "create", "oncall@example.com", "--role", "engineer", "--phone", "+393471234567",
          "--slack-id", "UONCALL")
    token = flask(env, "tokens", "create", "lead@example.com").strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = subprocess.Popen([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                            "--worker-class", "gthread", "--threads", "8", "--log-level", "warning", "wsgi:app"],
                           cwd=ROOT, env=env)
    worker_command = ([sys.executable, __file__, "--traced-worker", f"{tmp}/trace.txt"] if args.trace_worker
                      else [str(BIN / "flask"), "--app", "wsgi", "worker"])
    worker = subprocess.Popen(worker_command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=open(f"{tmp}/worker.log", "w"))
    counts, stop = Counts(), threading.Event()
    memory: dict[str, list[tuple[float, int]]] = {}
    kills: list[int] = []
    checks: list[str] = []
    try:
        for _ in range(100):
            try:
                call(base, "GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        call(base, "PUT", "/api/v1/escalation-policies/default", token, POLICY)
        incident = json.loads(call(base, "POST", "/api/v1/incidents", token,
                                   {"title": "Login failing", "severity": "SEV1", "services": ["login"]})[1])["id"]
        call(base, "POST", f"/api/v1/incidents/{incident}/link-rules", token, {"tags": ["login"]})
        call(base, "POST", "/api/v1/status/components", token, {"name": "Login", "service": "login"})
        call(base, "POST", f"/api/v1/incidents/{incident}/updates", token, {"message": "Looking into it."})
        started = time.monotonic()
        deadline = started + args.minutes * 60
        rng = random.Random(7)

        def ingest():
            n, batch = 0, max(1, args.rate // 10)
            while not stop.is_set():
                tick = time.monotonic()
                items = [{"external_id": f"ZD-{n + i}", "source": "zendesk", "subject": "Cannot log in",
                          "tags": ["login"] if rng.random() < 0.3 else ["billing"],
                          "requester": {"name": f"C{n + i}", "email": f"c{(n + i) % 20000}@example.com"}}
                         for i in range(batch)]
                n += batch
                try:
                    counts.add("ingest", call(base, "POST", "/api/v1/tickets", token, {"tickets": items})[0] == 200)
                except OSError as error:   # urllib's HTTPError and URLError are OSErrors
                    counts.fail("ingest", error)
                time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))

        def read():
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    counts.add("status", call(base, "GET", "/status")[0] == 200, time.perf_counter() - t0)
                except OSError as error:
                    counts.fail("status", error)

        def every(seconds, action, kind, first=0.0):
            next_at = time.monotonic() + first
            while not stop.wait(max(0.0, next_at - time.monotonic())):
                try:
                    action()
                    counts.add(kind, True)
                except OSError as error:
                    counts.fail(kind, error)
                next_at += seconds

        def broadcast():
            call(base, "POST", f"/api/v1/incidents/{incident}/broadcasts", token,
                 {"kind": "status", "channels": ["email", "sms"], "audience": {"linked_requesters": True}})

        def escalate():
            new = json.loads(call(base, "POST", "/api/v1/incidents", token,
                                  {"title": "Checkout errors", "severity": "SEV2"})[1])["id"]
            call(base, "POST", f"/api/v1/incidents/{new}/escalate", token, {})

        def kill():
            """Every connection to the scratch database terminated, as a restart would: only this database."""
            admin, name = cleanup
            with admin.connect() as conn:
                kills.append(conn.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name}).scalar_one())

        first_broadcast = args.broadcast_every if args.first_broadcast_after is None else args.first_broadcast_after
        threads = [threading.Thread(target=ingest, daemon=True),
                   *(threading.Thread(target=read, daemon=True) for _ in range(args.readers)),
                   threading.Thread(target=every, args=(args.broadcast_every, broadcast, "broadcast", first_broadcast),
                                    daemon=True),
                   threading.Thread(target=every, args=(args.escalate_every, escalate, "escalate"), daemon=True)]
        if args.kill_connections_every:
            threads.append(threading.Thread(target=every, daemon=True, args=(
                args.kill_connections_every, kill, "kill", args.kill_connections_every)))
        for thread in threads:
            thread.start()
        while time.monotonic() < deadline:
            now = time.monotonic() - started
            for name, pid in [("gunicorn master", web.pid), *((f"gunicorn {c}", c) for c in children(web.pid)),
                              ("worker", worker.pid)]:
                kb = rss_kb(pid)
                if kb:
                    memory.setdefault(name, []).append((now, kb))
            time.sleep(min(10.0, max(0.0, deadline - time.monotonic())))
        stop.set()
        for thread in threads:
            thread.join(timeout=40)
        sent = call(base, "GET", "/metrics")[1].decode()
        engine = create_engine(url)
        drained = drain(engine, args.drain)
        for proc in (web, worker):   # nothing changes while the checks read
            proc.terminate()
            proc.wait(timeout=30)
        checks = [f"after the load: the worker drained the outbox in {drained:.0f} s (at most {args.drain:g}), "
                  f"then web and the worker were stopped", *check(engine, smtp, email_rate)]
        engine.dispose()
    finally:
        stop.set()
        for proc in (web, worker):
            proc.terminate()
            proc.wait(timeout=30)
        if smtp is not None:
            smtp.stop()
        if cleanup:
            admin, name = cleanup
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    lat = sorted(counts.latencies)
    print(f"\nrequests ok: {dict(counts.ok)}; errors: {dict(counts.errors) or 'none'}; 503 'database unavailable': "
          f"{dict(counts.unavailable) or 'none'}")
    for kind, shown in counts.failures.items():
        for said in shown:
            print(f"  {kind} failed: {said}")
    if kills:
        print(f"connections killed: {len(kills)} times, {sum(kills)} connections ({kills})")
    batches = counts.ok.get("ingest", 0)
    print(f"ingest: {batches * max(1, args.rate // 10) / (args.minutes * 60):,.0f} tickets/s taken in "
          f"(asked {args.rate}/s; a batch a tenth of a second, one request at a time)")
    if lat:
        p99 = lat[int(len(lat) * 0.99) - 1]
        print(f"/status: {len(lat):,} reads, p50 {statistics.median(lat) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
              f"(target ≤ 100 ms: {'yes' if p99 <= 0.1 else 'NO'})")
    for line in sent.splitlines():
        if line.startswith(("tocsin_sends_total{", "tocsin_tickets_ingested_total{")) and not line.endswith(" 0.0"):
            print("  " + line)
    for line in checks + worker_log_lines(f"{tmp}/worker.log"):
        print(line)
    print("memory (RSS, MB): after the first minute -> at the end")
    for name, samples in sorted(memory.items()):
        later = [kb for t, kb in samples if t >= 60] or [samples[-1][1]]
        peak = max(kb for _, kb in samples) / 1024
        print(f"  {name:20} {later[0] / 1024:7.1f} -> {samples[-1][1] / 1024:7.1f}  (max {peak:.1f})")
    worker_samples = memory.get("worker", [])
    if worker_samples:
        print("  worker, every minute: " + " ".join(f"{kb / 1024:.0f}" for t, kb in worker_samples[::6]))
    if args.trace_worker and Path(f"{tmp}/trace.txt").exists():
        print("worker, tracemalloc (growth since the first minute):\n" + Path(f"{tmp}/trace.txt").read_text())


if __name__ == "__main__":
    main()
