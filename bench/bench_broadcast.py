"""Customer broadcasts at scale: preparing a 100,000-recipient send, and dispatching at a provider's rate.

Part 1 (prepare) — 100,000 customers (mixed locales, channel preferences, ~30% phones, an
enterprise segment), loaded with Core inserts (not timed), subscribed to an affected service
or linked to the incident as ticket requesters. An apology on email/sms/slack to
service_subscribers + linked_requesters is composed through the API, then `prepare_due()`
— render per channel × locale, resolve the audience in SQL, one outbox row per customer —
is timed in an app context. Target: ≤ 3 s on SQLite.

Part 2 (dispatch) — a loopback stand-in for Slack's chat.postMessage that takes 20 ms per
request runs in its own process; the app is configured with SLACK_BOT_TOKEN/SLACK_API_URL
pointing at it (a real SlackChannel through slack_sdk), CHANNEL_RATE_LIMITS=slack=500 and
DISPATCH_THREADS. 20,000 slack deliveries are prepared, then a fresh dispatcher process runs
`dispatch_broadcasts(app)` until the outbox is empty. The rate is measured at the stand-in
from the requests it answered, over the steady state (the first second, when the pace's
banked second goes out as a burst, is left out); the dispatcher samples its own VmRSS.
Target: ≥ 90% of 500 messages/s with the dispatcher under 200 MB. (The pace lets through
rate × (seconds + 1), so a 40-second run averages a little over the rate: ~512/s at 500.)

Measures and prints; never fails on a slow result.

    .venv/bin/python bench/bench_broadcast.py                    # SQLite, both parts
    .venv/bin/python bench/bench_broadcast.py --postgres         # scratch PostgreSQL database
    .venv/bin/python bench/bench_broadcast.py --part dispatch --threads 16,32,64
"""
from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))

PREPARE_TARGET_S = 3.0
RATE_SHARE = 0.90
MEMORY_TARGET_MB = 200.0
SLACK_TOKEN = "xoxb-bench-token"


# ================================================================ the Slack stand-in (its own process)

def serve_stand_in(latency: float) -> None:
    """A Slack Web API on 127.0.0.1 that answers chat.postMessage after `latency` seconds.

    Prints "PORT n" and serves until killed. GET /_stats returns the monotonic times (shared
    by all processes on Linux) at which answers were written; /_stats?reset=1 also clears them.
    """
    import itertools
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qsl, urlsplit

    times: list[float] = []
    errors = {"auth": 0, "bad": 0}
    counter = itertools.count(1)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002
            pass

        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path != "/_stats":
                return self._reply(404, {"ok": False, "error": "unknown_method"})
            with lock:
                body = {"times": list(times), "errors": dict(errors)}
                if "reset=1" in url.query:
                    times.clear()
                    errors.update(auth=0, bad=0)
            self._reply(200, body)

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            kind = self.headers.get("Content-Type", "")
            params = dict(parse_qsl(urlsplit(self.path).query))
            if kind.startswith("application/json"):
                params.update(json.loads(raw or b"{}"))
            elif kind.startswith("application/x-www-form-urlencoded"):
                params.update(parse_qsl(raw.decode()))
            time.sleep(latency)
            if self.headers.get("Authorization") != f"Bearer {SLACK_TOKEN}":
                with lock:
                    errors["auth"] += 1
                return self._reply(200, {"ok": False, "error": "invalid_auth"})
            if not self.path.endswith("/chat.postMessage") or not params.get("text"):
                with lock:
                    errors["bad"] += 1
                return self._reply(200, {"ok": False, "error": "unknown_method"})
            channel = params.get("channel", "")
            if channel.startswith("U"):
                channel = "D" + channel[1:]
            self._reply(200, {"ok": True, "channel": channel, "ts": f"1795000000.{next(counter):06d}",
                              "message": {"text": params["text"]}})
            with lock:
                times.append(time.monotonic())

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024   # slack_sdk opens a connection per request: no SYN drops at 500/s

    server = Server(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.05)


class StandIn:
    """The stand-in in a subprocess."""

    def __init__(self, latency: float):
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve-stand-in", str(latency)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the stand-in did not start: {line!r}")
        self.port = int(line.split()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def stats(self, reset: bool = False) -> dict:
        import urllib.request
        url = f"http://127.0.0.1:{self.port}/_stats" + ("?reset=1" if reset else "")
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# ================================================================ the dispatcher (its own process)

def run_dispatcher(config: dict) -> None:
    """A fresh process: create the app, sample VmRSS, run dispatch_broadcasts until the outbox is empty."""
    import logging

    from common import RssSampler, rss_kb

    from incident import create_app
    from incident.broadcast.sender import dispatch_broadcasts

    app = create_app({"TESTING": False, "SECRET_KEY": "bench-secret-key", "PUBLIC_BASE_URL": "http://tocsin.bench",
                      "SQLALCHEMY_DATABASE_URI": config["url"], "SLACK_BOT_TOKEN": SLACK_TOKEN,
                      "SLACK_API_URL": config["base_url"], "CHANNEL_RATE_LIMITS": f"slack={config['rate']:g}",
                      "DISPATCH_THREADS": config["threads"]})
    logging.getLogger().setLevel(logging.WARNING)
    profiler = None
    if config.get("profile"):
        from pyinstrument import Profiler
        profiler = Profiler(interval=0.001)
    baseline = rss_kb()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    with RssSampler(interval=0.01) as rss:
        if profiler:
            profiler.start()
        started = time.monotonic()
        finished = dispatch_broadcasts(app, budget=config["budget"])
        ended = time.monotonic()
        if profiler:
            profiler.stop()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    if profiler:
        with open(config["profile"], "w") as handle:
            handle.write(profiler.output_text(unicode=True, color=False, show_all=False))
    print("RESULT " + json.dumps({
        "finished": finished, "started": started, "ended": ended, "baseline_kb": baseline, "peak_kb": rss.peak,
        "cpu_s": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)}), flush=True)


# ================================================================ seeding (Core inserts, not timed)

def _services(names: list[str]) -> dict[str, int]:
    from incident.catalog import ensure_services
    from incident.extensions import db
    found = ensure_services(names)
    db.session.commit()
    return {s.name: s.id for s in found}


def _insert(table, rows: list[dict], chunk: int = 5_000) -> None:
    from sqlalchemy import insert

    from incident.extensions import db
    for start in range(0, len(rows), chunk):
        db.session.execute(insert(table), rows[start:start + chunk])


def _ids_by_external_id(prefix: str) -> dict[str, int]:
    from sqlalchemy import select

    from incident.customers.models import Customer
    from incident.extensions import db
    return dict((e, i) for i, e in db.session.execute(
        select(Customer.id, Customer.external_id).where(Customer.external_id.like(f"{prefix}%"))))


def seed_crowd(bench, incident_id: int, n: int, seed: int) -> dict:
    """`n` customers, each in the audience of an incident on login+api: ~80% subscribe to login
    and/or api, the rest only to billing but raised a ticket linked to the incident (as did 10%
    of the subscribers). Returns what was made."""
    from common import FIRST, LAST

    from incident.clock import utcnow
    from incident.customers.models import Customer, customer_services
    from incident.extensions import db
    from incident.tickets.models import Ticket

    rng = random.Random(seed)
    now = utcnow()
    stats = {"it": 0, "phone": 0, "slack": 0, "enterprise": 0, "opted_out": 0, "no_email": 0}
    customers, plan = [], []
    for i in range(n):
        locale = "it" if rng.random() < 0.4 else "en"
        phone = f"+39347{rng.randrange(10_000_000):07d}" if rng.random() < 0.3 else None
        enterprise = rng.random() < 0.05
        segment = "enterprise" if enterprise else rng.choice([None, None, "smb", "startup"])
        slack = f"C{i:09d}" if enterprise or rng.random() < 0.03 else None
        email = f"customer{i}@example.com" if (rng.random() < 0.97 or not (phone or slack)) else None
        options = [[], ["email"]]
        if phone:
            options += [["email", "sms"], ["sms", "email"], ["sms"]]
        if slack:
            options += [["slack", "email"], ["slack"]]
        channels = rng.choice(options)
        opted_out = ["email"] if rng.random() < 0.02 else (["sms"] if phone and rng.random() < 0.03 else [])
        customers.append({"external_id": f"CUST-{i}", "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                          "email": email, "phone": phone, "slack_channel": slack, "locale": locale,
                          "segment": segment, "channels": channels, "opted_out": opted_out,
                          "created_at": now, "updated_at": now})
        r = rng.random()
        plan.append(("subscriber" if r < 0.8 else "requester", rng.random() < 0.25, rng.random() < 0.10))
        stats["it"] += locale == "it"
        stats["phone"] += phone is not None
        stats["slack"] += slack is not None
        stats["enterprise"] += enterprise
        stats["opted_out"] += bool(opted_out)
        stats["no_email"] += email is None
    services = _services(["login", "api", "billing"])
    _insert(Customer, customers)
    ids = _ids_by_external_id("CUST-")
    subs, tickets = [], []
    for i, (how, also_api, also_ticket) in enumerate(plan):
        cid = ids[f"CUST-{i}"]
        if how == "subscriber":
            subs.append({"customer_id": cid, "service_id": services["login"]})
            if also_api:
                subs.append({"customer_id": cid, "service_id": services["api"]})
        else:
            subs.append({"customer_id": cid, "service_id": services["billing"]})
        if how == "requester" or also_ticket:
            c = customers[i]
            tickets.append({"source": "zendesk", "external_id": f"ZD-{i}", "subject": "Cannot log in",
                            "description": "Since this morning the sign-in page shows an error.",
                            "requester_name": c["name"], "requester_email": c["email"],
                            "requester_phone": c["phone"], "customer_id": cid, "tags": " login ",
                            "services": " login ", "priority": "normal", "status": "open", "created_at": now,
                            "received_at": now, "updated_at": now, "content_hash": f"{i:032x}",
                            "incident_id": incident_id, "linked_at": now, "link_method": "manual"})
    _insert(customer_services, subs)
    _insert(Ticket, tickets)
    db.session.commit()
    stats.update(subscriptions=len(subs), tickets=len(tickets))
    return stats


def seed_slack_crowd(n: int, service: str) -> None:
    """`n` customers who want Slack only, subscribed to `service`."""
    from incident.clock import utcnow
    from incident.customers.models import Customer, customer_services
    from incident.extensions import db

    now = utcnow()
    services = _services([service])
    rng = random.Random(7)
    from common import FIRST, LAST
    _insert(Customer, [{"external_id": f"SLK-{i}", "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                        "email": f"slack{i}@example.com", "slack_channel": f"C{i:09d}",
                        "locale": "it" if i % 3 == 0 else "en", "segment": "enterprise" if i % 20 == 0 else None,
                        "channels": ["slack"], "opted_out": [], "created_at": now, "updated_at": now}
                       for i in range(n)])
    ids = _ids_by_external_id("SLK-")
    _insert(customer_services, [{"customer_id": cid, "service_id": services[service]} for cid in ids.values()])
    db.session.commit()


# ================================================================ helpers

def declare(bench, services: list[str], title: str) -> int:
    response = bench.post("/api/v1/incidents", {"title": title, "severity": "SEV1", "services": services},
                          role="lead")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def compose(bench, incident_id: int, channels: list[str], audience: dict) -> int:
    response = bench.post(f"/api/v1/incidents/{incident_id}/broadcasts",
                          {"kind": "apology", "channels": channels, "audience": audience,
                           "message": "Sign-in fails for some of you; we are on it."}, role="lead")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def analyze(bench, tables: list[str]) -> None:
    from common import vacuum
    for table in tables:
        vacuum(bench, table)


def send_rows(bench, broadcast_id: int) -> dict:
    from sqlalchemy import func, select

    from incident.broadcast.models import BroadcastSend
    from incident.extensions import db
    from incident.outbox.models import Delivery
    with bench.app.app_context():
        rows = db.session.execute(select(Delivery.status, Delivery.channel, func.count())
                                  .join(BroadcastSend, BroadcastSend.id == Delivery.send_id)
                                  .where(BroadcastSend.broadcast_id == broadcast_id)
                                  .group_by(Delivery.status, Delivery.channel)).all()
        db.session.remove()
    out: dict = {}
    for status, channel, count in rows:
        out[f"{status}/{channel}"] = count
    return out


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        from common import load
        return load()


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


# ================================================================ part 1: prepare

# The baseline: the same audience's outbox rows by one hand-written INSERT … SELECT (a channel picked by a
# CASE, no opt-outs, languages or fallbacks), in the same database, committed, then removed untimed.
BASELINE_SQL = """
INSERT INTO deliveries (purpose, dedupe_key, incident_id, customer_id, send_id, message_id, channel, recipient,
                        subject, text, status, attempts, sandbox, next_attempt_at, created_at, updated_at)
SELECT 'broadcast', 'h:' || :run || ':' || CAST(c.id AS VARCHAR(20)), :incident, c.id, :send, :message,
       CASE WHEN c.email IS NOT NULL THEN 'email' WHEN c.phone IS NOT NULL THEN 'sms' ELSE 'slack' END,
       COALESCE(c.email, c.phone, c.slack_channel, ''), '', '', 'queued', 0, false, :now, :now, :now
FROM customers c
WHERE c.id IN (SELECT customer_id FROM tickets WHERE incident_id = :incident AND customer_id IS NOT NULL
               UNION
               SELECT cs.customer_id FROM customer_services cs
               JOIN incident_services i ON i.service_id = cs.service_id WHERE i.incident_id = :incident)
ORDER BY CASE WHEN c.segment = 'enterprise' THEN 0 ELSE 1 END, c.id
"""


def baseline_prepare(bench, incident_id: int, run: int) -> tuple[float, int]:
    """Seconds and rows of BASELINE_SQL + COMMIT; its rows are deleted afterwards (not timed)."""
    from common import Timer
    from sqlalchemy import text

    from incident.clock import utcnow
    from incident.extensions import db
    with bench.app.app_context():
        send, message = db.session.execute(text(
            "SELECT send_id, message_id FROM deliveries WHERE incident_id = :i AND purpose = 'broadcast' "
            "ORDER BY id DESC LIMIT 1"), {"i": incident_id}).one()
        with Timer() as timer:
            result = db.session.execute(text(BASELINE_SQL), {"run": str(run), "incident": incident_id, "send": send,
                                                             "message": message, "now": utcnow()})
            db.session.commit()
        db.session.execute(text("DELETE FROM deliveries WHERE dedupe_key LIKE 'h:%'"))
        db.session.commit()
        db.session.remove()
    return timer.seconds, result.rowcount

def part_prepare(args) -> list[dict]:
    from common import Timer, bench_app

    from incident.broadcast.service import prepare_due
    from incident.extensions import db

    results = []
    with bench_app(args) as bench:
        print(f"\n== Part 1: preparing a {args.customers:,}-recipient send — {bench.describe()}")
        t = time.perf_counter()
        incident_id = declare(bench, ["login", "api"], "Login failing for many customers")
        with bench.app.app_context():
            stats = seed_crowd(bench, incident_id, args.customers, args.seed)
            db.session.remove()
        analyze(bench, ["customers", "customer_services", "tickets"])
        print(f"seeded in {time.perf_counter() - t:.1f} s (not timed): {args.customers:,} customers, "
              f"{stats['it']:,} Italian, {stats['phone']:,} with a phone, {stats['slack']:,} with Slack, "
              f"{stats['enterprise']:,} enterprise, {stats['opted_out']:,} opted out of a channel, "
              f"{stats['no_email']:,} without email; {stats['subscriptions']:,} service subscriptions, "
              f"{stats['tickets']:,} linked tickets")
        for run in range(1, args.repeat + 1):
            broadcast_id = compose(bench, incident_id, ["email", "sms", "slack"],
                                   {"service_subscribers": True, "linked_requesters": True})
            if bench.kind == "postgresql":
                analyze(bench, ["deliveries"])
            before = uptime()
            profiler = None
            if args.profile and run == 1:
                from pyinstrument import Profiler
                profiler = Profiler(interval=0.001)
                profiler.start()
            with bench.app.app_context():
                with Timer() as timer:
                    prepared = prepare_due()
                db.session.remove()
            if profiler:
                profiler.stop()
                print(profiler.output_text(unicode=True, color=False, show_all=False))
            counts = send_rows(bench, broadcast_id)
            rows = sum(counts.values())
            results.append({"db": bench.kind, "run": run, "seconds": timer.seconds, "rows": rows,
                            "prepared": prepared, "counts": counts, "load": before})
            print(f"run {run}: prepare_due() prepared {prepared} send, {rows:,} outbox rows in "
                  f"{timer.seconds:.2f} s = {rows / timer.seconds:,.0f} rows/s  [{before}]")
            print("        " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
            if bench.kind == "postgresql":
                analyze(bench, ["deliveries"])
            base_seconds, base_rows = baseline_prepare(bench, incident_id, run)
            results[-1].update(baseline=base_seconds, baseline_rows=base_rows)
            print(f"        hand-written INSERT … SELECT of the same audience: {base_rows:,} rows in "
                  f"{base_seconds:.2f} s; Tocsin / baseline {timer.seconds / base_seconds:.2f}×")
        print()
        for r in results:
            ok = r["seconds"] <= PREPARE_TARGET_S and r["rows"] == args.customers
            print(f"| prepare {args.customers:,} | {r['db']} | run {r['run']} | {r['seconds']:.2f} s | "
                  f"{r['rows'] / r['seconds']:,.0f} rows/s | hand-written SQL {r['baseline']:.2f} s "
                  f"({r['seconds'] / r['baseline']:.2f}×) | target ≤ {PREPARE_TARGET_S:.0f} s: {verdict(ok)} |")
    return results


# ================================================================ part 2: dispatch

def steady_rate(times: list[float], skip: float = 1.0) -> dict:
    times = sorted(times)
    if len(times) < 2:
        return {"rate": 0.0, "overall": 0.0, "seconds": 0.0, "per_second": []}
    start, end = times[0], times[-1]
    steady = [t for t in times if t >= start + skip]
    span = end - (start + skip)
    buckets: dict[int, int] = {}
    for t in times:
        buckets[int(t - start)] = buckets.get(int(t - start), 0) + 1
    full = [buckets.get(s, 0) for s in range(int(skip), int(end - start))]  # whole seconds after the first
    return {"rate": len(steady) / span if span > 0 else 0.0, "overall": len(times) / (end - start),
            "seconds": end - start, "first_second": buckets.get(0, 0), "per_second": full}


def part_dispatch(args) -> list[dict]:
    from common import Timer, bench_app

    from incident.broadcast.service import prepare_due
    from incident.extensions import db

    results = []
    thread_counts = [int(x) for x in str(args.threads).split(",") if x.strip()]
    stand_in = StandIn(args.latency_ms / 1000)
    try:
        with bench_app(args) as bench:
            print(f"\n== Part 2: dispatching {args.deliveries:,} Slack messages at slack={args.rate:g}/s through a "
                  f"stand-in taking {args.latency_ms:g} ms per request — {bench.describe()}")
            print(f"processes: this one seeds and prepares; the Slack stand-in (pid {stand_in.proc.pid}, "
                  f"ThreadingHTTPServer on {stand_in.base_url}) and each dispatcher run are separate processes")
            incident_id = declare(bench, ["status-api"], "Status API failing")
            with bench.app.app_context():
                seed_slack_crowd(args.deliveries, "status-api")
                db.session.remove()
            analyze(bench, ["customers", "customer_services"])
            for threads in thread_counts:
                broadcast_id = compose(bench, incident_id, ["slack"], {"service_subscribers": True})
                with bench.app.app_context():
                    with Timer() as prep:
                        prepare_due()
                    db.session.remove()
                if bench.kind == "postgresql":
                    analyze(bench, ["deliveries"])
                queued = send_rows(bench, broadcast_id)
                stand_in.stats(reset=True)
                with bench.app.app_context():
                    db.engine.dispose()   # this process holds no connection while the dispatcher runs
                before = uptime()
                budget = args.deliveries / args.rate * 4 + 30
                profile = f"/tmp/bench_broadcast_dispatch_{os.getpid()}_{threads}.txt" if args.profile else None
                config = {"url": bench.url, "base_url": stand_in.base_url, "rate": args.rate, "threads": threads,
                          "budget": budget, "profile": profile}
                proc = subprocess.run([sys.executable, __file__, "--run-dispatcher", json.dumps(config)],
                                      capture_output=True, text=True, cwd=ROOT)
                lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
                if proc.returncode != 0 or not lines:
                    print(proc.stdout[-3000:], proc.stderr[-5000:])
                    raise RuntimeError(f"the dispatcher failed (exit {proc.returncode})")
                if proc.stderr.strip():
                    print("dispatcher stderr (last lines):\n" + "\n".join(proc.stderr.strip().splitlines()[-8:]))
                out = json.loads(lines[-1][len("RESULT "):])
                after = uptime()
                stats = stand_in.stats(reset=True)
                rate = steady_rate(stats["times"])
                counts = send_rows(bench, broadcast_id)
                run_s = out["ended"] - out["started"]
                row = {"db": bench.kind, "threads": threads, "queued": sum(queued.values()), "counts": counts,
                       "answered": len(stats["times"]), "errors": stats["errors"], **rate,
                       "finished": out["finished"], "run_s": run_s, "cpu_s": out["cpu_s"],
                       "baseline_mb": out["baseline_kb"] / 1024, "peak_mb": out["peak_kb"] / 1024,
                       "load_before": before, "load_after": after, "prepare_s": prep.seconds}
                results.append(row)
                per = rate["per_second"]
                print(f"\nDISPATCH_THREADS={threads}: prepared {row['queued']:,} rows in {prep.seconds:.2f} s; "
                      f"dispatcher finished {out['finished']:,} rows in {run_s:.1f} s "
                      f"(CPU {out['cpu_s']:.1f} s = {out['cpu_s'] / run_s:.0%} of a core)")
                print(f"  stand-in answered {len(stats['times']):,} chat.postMessage (errors {stats['errors']}); "
                      f"first second {rate.get('first_second', 0)}; steady state {rate['rate']:,.1f}/s; "
                      f"overall {rate['overall']:,.1f}/s")
                if per:
                    print(f"  whole seconds after the first: min {min(per)}, median {sorted(per)[len(per) // 2]}, "
                          f"max {max(per)}")
                print("  outbox after: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
                print(f"  dispatcher RSS: baseline {row['baseline_mb']:.1f} MB, peak {row['peak_mb']:.1f} MB "
                      f"(+{row['peak_mb'] - row['baseline_mb']:.1f} MB)")
                print(f"  load before: {before}\n  load after:  {after}")
                if profile:
                    print(f"  pyinstrument profile of the dispatcher's main thread: {profile}")
            print()
            for r in results:
                ok_rate = r["rate"] >= RATE_SHARE * args.rate
                ok_mem = r["peak_mb"] < MEMORY_TARGET_MB
                print(f"| dispatch | {r['db']} | {r['threads']} threads | {r['rate']:,.1f} msg/s steady "
                      f"({r['rate'] / args.rate:.1%} of {args.rate:g}) | target ≥ {RATE_SHARE * args.rate:g}/s: "
                      f"{verdict(ok_rate)} | RSS peak {r['peak_mb']:.1f} MB (+{r['peak_mb'] - r['baseline_mb']:.1f}) "
                      f"| target < {MEMORY_TARGET_MB:.0f} MB: {verdict(ok_mem)} |")
    finally:
        stand_in.stop()
    return results


# ================================================================ main

def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-stand-in":
        return serve_stand_in(float(sys.argv[2]))
    if len(sys.argv) > 2 and sys.argv[1] == "--run-dispatcher":
        return run_dispatcher(json.loads(sys.argv[2]))
    from common import machine, parser

    p = parser(__doc__.splitlines()[0])
    p.add_argument("--part", choices=("prepare", "dispatch", "both"), default="both")
    p.add_argument("--customers", type=int, default=100_000, help="recipients of the prepared send (part 1)")
    p.add_argument("--repeat", type=int, default=3, help="prepare this many sends, one after the other (part 1)")
    p.add_argument("--deliveries", type=int, default=20_000, help="slack messages to dispatch (part 2)")
    p.add_argument("--rate", type=float, default=500.0, help="CHANNEL_RATE_LIMITS for slack (part 2)")
    p.add_argument("--latency-ms", type=float, default=20.0, help="the stand-in's time per request (part 2)")
    p.add_argument("--threads", default="32", help="DISPATCH_THREADS to try, comma-separated (part 2)")
    p.add_argument("--profile", action="store_true", help="pyinstrument: part 1's first prepare_due and each "
                                                          "dispatcher's main thread")
    args = p.parse_args()
    print(f"machine: {machine()}")
    print(f"start: {uptime()}")
    if args.part in ("prepare", "both"):
        part_prepare(args)
    if args.part in ("dispatch", "both"):
        part_dispatch(args)
    print(f"\nend: {uptime()}")


if __name__ == "__main__":
    main()
