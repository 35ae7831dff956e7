"""Soak: Tocsin under a steady mixed load for a bounded time, the processes' memory watched.

    .venv/bin/python bench/soak.py --postgres                 # 30 minutes on a scratch PostgreSQL database
    .venv/bin/python bench/soak.py --postgres --minutes 3     # a short look

What runs, all on loopback, for --minutes (bounded in time and in count):
  - gunicorn (2 processes × 8 threads) and one `flask worker`, on a scratch database (sandbox channels);
  - ingest: --rate tickets/s (default 200) through POST /api/v1/tickets in batches of a tenth of a second;
  - the status page: --readers threads GETting /status back to back, every latency kept;
  - a broadcast (an apology to the linked requesters) every --broadcast-every seconds (default 300);
  - escalations: an incident declared and escalated every --escalate-every seconds (default 60), each
    level's deadline 60 s, so breaches and next levels keep firing in the worker.
Every 10 s the RSS of each process (gunicorn's master and workers, the worker) is sampled from /proc.
At the end: requests and errors per kind, the status page's p50/p99, tickets taken in, messages sent,
and each process's RSS at the start of the second minute and at the end. Prints; never fails.
Target (issue 15): no error, memory flat, the status page's p99 ≤ 100 ms.
"""
from __future__ import annotations

import argparse
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
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_PG_SERVER  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

POLICY = {"levels": [{"name": "L1", "targets": [{"user": "oncall@example.com"}], "ack_timeout_seconds": 60,
                      "channels": ["slack", "sms"]},
                     {"name": "engineering", "targets": [{"user": "oncall@example.com"}], "ack_timeout_seconds": 60,
                      "channels": ["slack", "sms", "email"]}], "repeat": 1}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_database(postgres: bool, tmp: str) -> tuple[str, object]:
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
    def __init__(self):
        self.lock, self.ok, self.errors, self.latencies = threading.Lock(), {}, {}, []

    def add(self, kind: str, ok: bool, seconds: float | None = None):
        with self.lock:
            (self.ok if ok else self.errors)[kind] = (self.ok if ok else self.errors).get(kind, 0) + 1
            if seconds is not None and ok:
                self.latencies.append(seconds)


def call(base, method, path, token=None, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--postgres", action="store_true")
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--rate", type=int, default=200, help="tickets per second")
    p.add_argument("--readers", type=int, default=4, help="threads reading the status page back to back")
    p.add_argument("--broadcast-every", type=float, default=300.0)
    p.add_argument("--escalate-every", type=float, default=60.0)
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="tocsin-soak-")
    url, cleanup = scratch_database(args.postgres, tmp)
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "soak", "LOG_LEVEL": "WARNING",
           "PUBLIC_BASE_URL": "http://soak.test", "SCHEDULER_TICK_SECONDS": "1",
           "PROMETHEUS_MULTIPROC_DIR": f"{tmp}/prom"}
    os.makedirs(env["PROMETHEUS_MULTIPROC_DIR"])
    for key in ("SLACK_BOT_TOKEN", "TWILIO_ACCOUNT_SID", "SMTP_HOST", "ZENDESK_URL"):
        env.pop(key, None)
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; database {url.split(':')[0]}; "
          f"{args.minutes:g} minutes, {args.rate} tickets/s, {args.readers} status readers")
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
    worker = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/worker.log", "w"))
    counts, stop = Counts(), threading.Event()
    memory: dict[str, list[tuple[float, int]]] = {}
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
                except (OSError, urllib.error.HTTPError):
                    counts.add("ingest", False)
                time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))

        def read():
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    ok = call(base, "GET", "/status")[0] == 200
                except (OSError, urllib.error.HTTPError):
                    ok = False
                counts.add("status", ok, time.perf_counter() - t0)

        def every(seconds, action, kind):
            next_at = time.monotonic()
            while not stop.wait(max(0.0, next_at - time.monotonic())):
                try:
                    action()
                    counts.add(kind, True)
                except (OSError, urllib.error.HTTPError):
                    counts.add(kind, False)
                next_at += seconds

        def broadcast():
            call(base, "POST", f"/api/v1/incidents/{incident}/broadcasts", token,
                 {"kind": "status", "channels": ["email", "sms"], "audience": {"linked_requesters": True}})

        def escalate():
            new = json.loads(call(base, "POST", "/api/v1/incidents", token,
                                  {"title": "Checkout errors", "severity": "SEV2"})[1])["id"]
            call(base, "POST", f"/api/v1/incidents/{new}/escalate", token, {})

        threads = [threading.Thread(target=ingest, daemon=True),
                   *(threading.Thread(target=read, daemon=True) for _ in range(args.readers)),
                   threading.Thread(target=every, args=(args.broadcast_every, broadcast, "broadcast"), daemon=True),
                   threading.Thread(target=every, args=(args.escalate_every, escalate, "escalate"), daemon=True)]
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
    finally:
        stop.set()
        for proc in (web, worker):
            proc.terminate()
            proc.wait(timeout=30)
        if cleanup:
            admin, name = cleanup
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    lat = sorted(counts.latencies)
    print(f"\nrequests ok: {counts.ok}; errors: {counts.errors or 'none'}")
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
    print("memory (RSS, MB): after the first minute -> at the end")
    for name, samples in sorted(memory.items()):
        later = [kb for t, kb in samples if t >= 60] or [samples[-1][1]]
        peak = max(kb for _, kb in samples) / 1024
        print(f"  {name:20} {later[0] / 1024:7.1f} -> {samples[-1][1] / 1024:7.1f}  (max {peak:.1f})")


if __name__ == "__main__":
    main()
