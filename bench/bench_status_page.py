"""The public status page under a refresh storm while a broadcast is dispatching.

gunicorn serves a seeded Tocsin (SQLite by default) on loopback; `wrk` hammers
/api/v2/summary.json, then /status; meanwhile a dispatcher process sends a large queue of
outbox rows (one per subscriber, the maintenance-notice broadcast) through the sandbox
channels, as the worker would. Prints requests/s, latency percentiles, errors and how many
deliveries went out during each run. Measures; never fails on a slow result.

    .venv/bin/python bench/bench_status_page.py [--seconds 20] [--connections 64] [--workers 4]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent

TARGET_RPS, TARGET_P99_MS = 2_000, 100.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(database_url: str, subscribers: int) -> int:
    """Migrate, add components, incidents over 90 days, subscribers; queue one notice each."""
    import flask_migrate
    from sqlalchemy import insert, select

    from incident import clock, create_app
    from incident.auth.service import create_user
    from incident.catalog import Service
    from incident.customers.models import Customer, customer_services
    from incident.extensions import db
    from incident.flows import declare_incident
    from incident.incidents.service import post_update
    from incident.status import service as status
    from incident.status.service import queue_maintenance_notices

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", "PUBLIC_BASE_URL": "http://status.bench"})
    now = datetime.now(timezone.utc)
    with app.app_context():
        flask_migrate.upgrade()
        lead = create_user("lead@example.com", role="lead")
        clock.freeze(now - timedelta(days=95))
        for group, names in (("Core platform", ("Login", "API", "Dashboard", "Webhooks")),
                             ("Payments", ("Billing", "Cards", "Invoices", "Payouts"))):
            for name in names:
                status.create_component(lead, name=name, group=group, description=f"{name} for every customer")
        for days, sev, services in ((60, "SEV3", ["dashboard"]), (30, "SEV1", ["login", "api"]), (7, "SEV2", ["billing"])):
            clock.freeze(now - timedelta(days=days))
            incident = declare_incident(lead, title=f"{services[0]} trouble", severity=sev, services=services)
            post_update(lead, incident.id, status="investigating", message="We are looking into it.")
            clock.advance(hours=2)
            post_update(lead, incident.id, status="resolved", message="Fixed and monitored.")
        clock.freeze(now - timedelta(minutes=30))
        open_one = declare_incident(lead, title="Slow API responses in the EU", severity="SEV2", services=["api"])
        for n, st in enumerate(("investigating", "identified", "monitoring")):
            clock.advance(minutes=5)
            post_update(lead, open_one.id, status=st, message=f"Update {n + 1}: {st} — details for customers.")
        clock.freeze(now)
        api_service = db.session.scalar(select(Service).where(Service.name == "api"))
        rows = [{"email": f"customer{n}@example.com", "name": f"Customer {n}", "locale": "it" if n % 3 else "en",
                 "channels": ["email"], "opted_out": [], "created_at": now, "updated_at": now}
                for n in range(subscribers)]
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(Customer), rows[start:start + 5000])
        ids = db.session.scalars(select(Customer.id)).all()
        db.session.execute(insert(customer_services), [{"customer_id": i, "service_id": api_service.id} for i in ids])
        db.session.commit()
        components = [c.id for c in status.list_components() if c.name == "API"]
        status.schedule_maintenance(lead, name="Database upgrade", message="Read-only for an hour.",
                                    scheduled_for=now + timedelta(minutes=30), scheduled_until=now + timedelta(hours=2),
                                    components=components)
        queued = queue_maintenance_notices()
        clock.unfreeze()
        db.engine.dispose()
    return queued


DISPATCHER = """
import sys, time
sys.path.insert(0, {root!r})
from incident import create_app
from incident.outbox.dispatch import dispatch_due
app = create_app({{"SQLALCHEMY_DATABASE_URI": {url!r}, "SECRET_KEY": "bench"}})
sent, start = 0, time.monotonic()
while True:
    n = dispatch_due(app, limit=500)
    if not n:
        break
    sent += n
    print(f"{{time.monotonic():.3f}} {{sent}}", flush=True)
print(f"done {{sent}} in {{time.monotonic() - start:.1f}} s", flush=True)
"""


def run_wrk(url: str, seconds: int, connections: int, threads: int) -> dict:
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def pct(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * unit[m.group(2)] if m else float("nan")

    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "p50": pct("50"), "p90": pct("90"), "p99": pct("99"),
            "errors": errors + (int(non2xx.group(1)) if non2xx else 0), "raw": out}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=4, help="gunicorn processes")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per process (gthread)")
    p.add_argument("--subscribers", type=int, default=150_000, help="outbox rows the dispatcher works through")
    p.add_argument("--database-url", help="use this (empty, scratch) database instead of a temp SQLite file")
    p.add_argument("--verbose", action="store_true", help="print wrk's own output")
    args = p.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    tmp = tempfile.mkdtemp(prefix="tocsin-status-bench-")
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    print(f"machine: {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}; database {url.split(':')[0]}")
    started = time.monotonic()
    queued = seed(url, args.subscribers)
    print(f"seeded in {time.monotonic() - started:.1f} s: 8 components, 4 incidents, {queued:,} notices queued")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING",
           "PUBLIC_BASE_URL": "http://status.bench"}
    web = subprocess.Popen([str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
                            "--worker-class", "gthread", "--threads", str(args.threads), "--log-level", "warning",
                            "wsgi:app"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/api/v2/summary.json", timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        for path in ("/api/v2/summary.json", "/status"):   # every process renders its snapshot once
            for _ in range(args.workers * 4):
                urllib.request.urlopen(base + path, timeout=5).read()
        dispatcher = subprocess.Popen([sys.executable, "-c", DISPATCHER.format(root=str(ROOT), url=url)],
                                      stdout=subprocess.PIPE, text=True, env=env)
        time.sleep(1.0)   # the broadcast is under way
        results = []
        for path in ("/api/v2/summary.json", "/status"):
            t0 = time.monotonic()
            r = run_wrk(base + path, args.seconds, args.connections, args.wrk_threads)
            r["path"], r["window"] = path, (t0, time.monotonic())
            results.append(r)
            if args.verbose:
                print(r["raw"])
        dispatcher.send_signal(signal.SIGTERM)
        lines = dispatcher.communicate(timeout=30)[0].splitlines()
        progress = [(float(a), int(b)) for a, b in (line.split() for line in lines if line[:1].isdigit())]
        print(f"\nwrk -t{args.wrk_threads} -c{args.connections} -d{args.seconds}s; gunicorn --workers {args.workers} "
              f"--worker-class gthread --threads {args.threads}; dispatcher sending {queued:,} outbox rows\n")
        print("| path | requests/s | p50 ms | p90 ms | p99 ms | errors | deliveries sent meanwhile | target met |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for r in results:
            a, b = r["window"]
            inside = [n for t, n in progress if a <= t <= b]
            before = [n for t, n in progress if t < a]
            sent = (inside[-1] - (before[-1] if before else 0)) if inside else 0
            ok = r["rps"] >= TARGET_RPS and r["p99"] <= TARGET_P99_MS and r["errors"] == 0
            print(f"| {r['path']} | {r['rps']:,.0f} | {r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} | {r['errors']} "
                  f"| {sent:,} | {'yes' if ok else 'NO'} (≥ {TARGET_RPS:,}/s, p99 ≤ {TARGET_P99_MS:.0f} ms, 0 errors) |")
        print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    finally:
        web.terminate()
        web.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
