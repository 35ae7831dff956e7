"""Time to inform: from a broadcast's send time to the last of 10,000 customers' emails accepted
by an SMTP provider that answers in 20 ms, with the real worker process(es); beside it the
baseline, plain smtplib with 32 threads sending the same 10,000 messages to the same server.

    .venv/bin/python bench/bench_inform.py                     # SQLite, 1 worker
    .venv/bin/python bench/bench_inform.py --postgres          # PostgreSQL, 1 and 2 workers
    .venv/bin/python bench/bench_inform.py --postgres --workers 1,2,4

The provider: aiosmtpd on 127.0.0.1 in its own process; every message waits `--latency` (20 ms)
before its 250, and the server counts the messages per recipient (nothing sent twice) and
keeps the wall time of the last accept. The workers: `python -m flask --app wsgi worker`
subprocesses against the scratch database with SMTP_HOST pointing at it, `CHANNEL_RATE_LIMITS`
email=`--rate` (500/s: what a real account allows), DISPATCH_THREADS `--threads` (32, the
default). The broadcast is composed through the API once every worker has ticked (its
heartbeat is in the database); the clock runs from its `send_at` to the server's last accept,
so it includes preparing the send (the audience query, rendering, the outbox rows) on the
worker's next tick.

The baseline runs in another process: `--baseline-threads` (32) threads, each with one SMTP
connection it reuses, sending the same 10,000 messages (text + HTML, the size of the
broadcast's) with `smtplib` as fast as the server answers — no database, no pacing.

Prints figures, never asserts. Targets (issue 15): Tocsin ≤ 1.5 × the baseline, ≤ 30 s with one
worker, about half that with two; nothing sent twice.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent
RECIPIENTS = 10_000


# ================================================================ the SMTP provider (its own process)

def serve_smtp(latency: float) -> None:
    """aiosmtpd on a free port; each DATA waits `latency` s then 250. Reads commands on stdin:
    `stats` prints a JSON line {count, per-recipient duplicates, first/last accept}; `reset` clears."""
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    received: Counter = Counter()
    times: list[float] = []
    lock = threading.Lock()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(latency)
            now = time.time()
            with lock:
                received.update(envelope.rcpt_tos)
                times.append(now)
            return "250 Message accepted for delivery"

    class Loopback(Controller):
        def _trigger_server(self):
            self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()

    controller = Loopback(Handler(), hostname="127.0.0.1", port=0, server_hostname="smtp.bench")
    controller.start()
    print(f"PORT {controller.port}", flush=True)
    for line in sys.stdin:
        command = line.strip()
        with lock:
            if command == "stats":
                print(json.dumps({"messages": len(times), "recipients": len(received),
                                  "twice": sum(1 for n in received.values() if n > 1),
                                  "extra": sum(n - 1 for n in received.values() if n > 1),
                                  "first": min(times) if times else None, "last": max(times) if times else None}),
                      flush=True)
            elif command == "reset":
                received.clear()
                times.clear()
                print("{}", flush=True)
    controller.stop()


class Provider:
    def __init__(self, latency: float):
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve-smtp", str(latency)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the SMTP stand-in did not start: {line!r}")
        self.port = int(line.split()[1])

    def _ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stats(self) -> dict:
        return self._ask("stats")

    def reset(self) -> None:
        self._ask("reset")

    def stop(self) -> None:
        from common import stop_child
        stop_child(self.proc)


# ================================================================ the baseline (its own process)

def run_baseline(port: int, threads: int, count: int) -> None:
    """`threads` threads, one reused SMTP connection each, `count` messages; prints the elapsed time."""
    text = ("Ciao Customer,\n\nSign-in fails for some of you; we are on it. We will write again "
            "within the hour.\n\nStatus page: http://tocsin.bench/status\nUnsubscribe: "
            "http://tocsin.bench/u/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n") * 2
    html = "<html><body>" + "".join(f"<p>{line}</p>" for line in text.splitlines()) + "</body></html>"

    def build(n: int) -> EmailMessage:
        email = EmailMessage()
        email["Subject"] = "[Investigating] Login failing for many customers"
        email["From"] = "status@tocsin.bench"
        email["To"] = f"c{n}@example.com"
        email.set_content(text)
        email.add_alternative(html, subtype="html")
        return email

    lock = threading.Lock()
    todo = iter(range(count))
    errors = Counter()

    def work() -> None:
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        smtp.ehlo()
        while True:
            with lock:
                n = next(todo, None)
            if n is None:
                break
            email = build(n)
            try:
                smtp.send_message(email, from_addr="status@tocsin.bench", to_addrs=[f"c{n}@example.com"])
            except (smtplib.SMTPException, OSError) as error:
                errors[type(error).__name__] += 1
        smtp.quit()

    started = time.time()
    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print("RESULT " + json.dumps({"started": started, "ended": time.time(), "errors": dict(errors),
                                  "cpu": usage.ru_utime + usage.ru_stime}), flush=True)


def baseline(provider: Provider, threads: int, count: int) -> dict:
    provider.reset()
    server_cpu = cpu_seconds(provider.proc.pid)
    out = subprocess.run([sys.executable, __file__, "--baseline", str(provider.port), str(threads), str(count)],
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
    stats = provider.stats()
    return {"seconds": stats["last"] - result["started"], "stats": stats, "errors": result["errors"],
            "cpu": result["cpu"], "server_cpu": cpu_seconds(provider.proc.pid) - server_cpu}


# ================================================================ Tocsin

def seed(bench, count: int) -> None:
    from datetime import datetime, timezone

    from sqlalchemy import insert

    from incident.customers.models import Customer
    from incident.extensions import db
    now = datetime.now(timezone.utc)
    with bench.app.app_context():
        db.session.execute(insert(Customer), [
            {"external_id": f"CUST-{n}", "name": f"Customer {n}", "email": f"c{n}@example.com",
             "locale": "it" if n % 3 == 0 else "en", "segment": "crowd", "channels": ["email"], "opted_out": [],
             "created_at": now, "updated_at": now} for n in range(count)])
        db.session.commit()
        db.session.remove()


def start_worker(bench, port: int, args, log: Path) -> subprocess.Popen:
    env = {**os.environ, "SECRET_KEY": "bench-secret-key", "DATABASE_URL": bench.url, "PUBLIC_BASE_URL":
           "http://tocsin.bench", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "MAIL_FROM": "status@tocsin.bench",
           "CHANNEL_RATE_LIMITS": f"email={args.rate:g}", "DISPATCH_THREADS": str(args.threads),
           "LOG_LEVEL": "WARNING"}
    for key in ("SLACK_BOT_TOKEN", "TWILIO_ACCOUNT_SID", "SCHEDULER_TICK_SECONDS"):
        env.pop(key, None)
    with log.open("a") as handle:
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=handle)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scalar(bench, query):
    from incident.extensions import db
    with bench.app.app_context():
        value = db.session.execute(query).scalar()
        db.session.remove()
    return value


def status_counts(bench) -> dict:
    from sqlalchemy import func, select

    from incident.extensions import db
    from incident.outbox.models import Delivery
    with bench.app.app_context():
        rows = dict(db.session.execute(select(Delivery.status, func.count()).where(Delivery.purpose == "broadcast")
                                       .group_by(Delivery.status)).tuples().all())
        db.session.remove()
    return rows


def tocsin(args, provider: Provider, workers: int) -> dict:
    import tempfile

    from common import bench_app
    from sqlalchemy import func, select

    from incident.broadcast.models import Broadcast
    from incident.heartbeat import WorkerHeartbeat

    with bench_app(args) as bench:
        seed(bench, args.customers)
        incident_id = bench.declare("Login failing for many customers")
        provider.reset()
        log = Path(tempfile.mkdtemp(prefix="tocsin-inform-")) / "worker.log"
        procs = [start_worker(bench, provider.port, args, log) for _ in range(workers)]
        try:
            deadline = time.monotonic() + 60
            while scalar(bench, select(func.count()).select_from(WorkerHeartbeat)) < workers:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise RuntimeError(f"the workers did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
            load_before = os.getloadavg()[0]
            server_cpu = cpu_seconds(provider.proc.pid)
            response = bench.post(f"/api/v1/incidents/{incident_id}/broadcasts",
                                  {"kind": "apology", "channels": ["email"], "audience": {"segments": ["crowd"]},
                                   "message": "Sign-in fails for some of you; we are on it."}, role="lead")
            assert response.status_code == 201, response.get_json()
            broadcast_id = response.get_json()["id"]
            send_at = scalar(bench, select(Broadcast.send_at).where(Broadcast.id == broadcast_id)).timestamp()
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                stats = provider.stats()
                if stats["messages"] >= args.customers:
                    break
                time.sleep(0.25)
            time.sleep(0.5)   # the last results' writes
            cpu = sum(cpu_seconds(proc.pid) for proc in procs)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        stats = provider.stats()
        counts = status_counts(bench)
        return {"db": bench.kind, "workers": workers, "seconds": (stats["last"] or send_at) - send_at,
                "first": (stats["first"] or send_at) - send_at,
                "cpu": cpu, "server_cpu": cpu_seconds(provider.proc.pid) - server_cpu, "stats": stats, "counts": counts,
                "load": f"{load_before:.2f} → {os.getloadavg()[0]:.2f}",
                "log": log.read_text()[-2000:] if stats["messages"] < args.customers else ""}


def main() -> None:
    from common import load, machine, parser, table

    p = parser(__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=RECIPIENTS, help="recipients (default 10,000)")
    p.add_argument("--workers", default=None, help="worker counts, e.g. 1,2,4 (default 1,2 on PostgreSQL, 1 on SQLite)")
    p.add_argument("--latency", type=float, default=0.02, help="seconds the SMTP server waits before each 250 (0.02)")
    p.add_argument("--rate", type=float, default=500, help="CHANNEL_RATE_LIMITS email= (default 500/s)")
    p.add_argument("--threads", type=int, default=32, help="the workers' DISPATCH_THREADS (default 32)")
    p.add_argument("--baseline-threads", type=int, default=32, help="smtplib threads of the baseline (default 32)")
    p.add_argument("--timeout", type=float, default=300, help="give up on a run after this many seconds")
    args = p.parse_args()
    workers = [int(w) for w in (args.workers or ("1,2" if args.postgres or os.environ.get("BENCH_DATABASE_URL")
                                                  else "1")).split(",")]
    print(machine())
    print(f"load before: {load()}")
    provider = Provider(args.latency)
    try:
        base = baseline(provider, args.baseline_threads, args.customers)
        print(f"\nbaseline: smtplib, {args.baseline_threads} threads, a reused connection each, "
              f"{base['stats']['messages']:,} messages accepted in {base['seconds']:.2f} s "
              f"({base['stats']['messages'] / base['seconds']:,.0f}/s), sent twice: {base['stats']['twice']}, "
              f"CPU: client {base['cpu']:.1f} s, SMTP server {base['server_cpu']:.1f} s"
              + (f", errors {base['errors']}" if base["errors"] else ""))
        rows = []
        for n in workers:
            result = tocsin(args, provider, n)
            s = result["stats"]
            print(f"tocsin {result['db']}, {n} worker(s): {s['messages']:,} accepted, last {result['seconds']:.2f} s "
                  f"after send_at (first {result['first']:.2f} s), recipients {s['recipients']:,}, "
                  f"sent twice {s['twice']}, outbox {result['counts']}, CPU: workers {result['cpu']:.1f} s, "
                  f"SMTP server {result['server_cpu']:.1f} s, load {result['load']}")
            if result["log"]:
                print("worker log (tail):\n" + result["log"])
            ratio = result["seconds"] / base["seconds"]
            target = 30 if n == 1 else 30 / n
            rows.append((result["db"], n, f"{s['messages']:,}", f"{result['seconds']:.2f}", f"{base['seconds']:.2f}",
                         f"{ratio:.2f}×", f"{s['messages'] / max(result['seconds'], 1e-9):,.0f}", s["twice"],
                         "yes" if ratio <= 1.5 and result["seconds"] <= target and s["twice"] == 0
                         and s["messages"] >= args.customers else "NO"))
        print()
        print(table(f"Time to inform {args.customers:,} customers (email, provider {args.latency * 1000:g} ms, "
                    f"email={args.rate:g}/s, {args.threads} threads a worker)", rows,
                    ("database", "workers", "accepted", "tocsin s", "baseline s", "ratio", "msg/s", "twice",
                     "meets")))
        print(f"floor set by the rate limit: {max(args.customers - args.rate, 0) / args.rate:.1f} s per worker's pace "
              f"(email={args.rate:g}/s, a second's worth banked)")
    finally:
        provider.stop()
    print(f"load after: {load()}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-smtp":
        serve_smtp(float(sys.argv[2]))
    elif len(sys.argv) > 4 and sys.argv[1] == "--baseline":
        run_baseline(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
