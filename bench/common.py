"""Shared helpers for the benchmarks: a scratch database and app, staff with tokens, fast
realistic tickets, a timer and an RSS sampler.

Nothing here asserts a speed: the benchmarks measure and print.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python bench/bench_x.py` from anywhere
    sys.path.insert(0, str(ROOT))

import logging  # noqa: E402

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

DEFAULT_PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BATCH = 10_000
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)


# ---------------------------------------------------------------- command line

def parser(description: str, *, tickets: int = 100_000) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--postgres", action="store_true",
                   help=f"run on a scratch PostgreSQL database (server from BENCH_DATABASE_URL, "
                        f"default {DEFAULT_PG_SERVER})")
    p.add_argument("--tickets", type=int, default=tickets, help=f"how many tickets (default {tickets:,})")
    p.add_argument("--batch", type=int, default=BATCH, help=f"tickets per API request (default {BATCH:,})")
    p.add_argument("--seed", type=int, default=1, help="random seed for the generated tickets")
    p.add_argument("--keep", action="store_true", help="keep the scratch database (prints where it is)")
    return p


def normalize_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# ---------------------------------------------------------------- scratch database + app

@dataclass
class Bench:
    """A migrated app on a scratch database, with an agent and a lead and their tokens."""

    app: object
    url: str
    kind: str  # "sqlite" | "postgresql"
    agent_token: str
    lead_token: str
    agent_id: int
    lead_id: int
    client: object = None
    extra: dict = field(default_factory=dict)

    def headers(self, role: str = "agent") -> dict:
        token = self.agent_token if role == "agent" else self.lead_token
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body, role: str = "agent"):
        """POST a JSON body (a dict, or bytes already serialised)."""
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.client.post(path, data=data, headers=self.headers(role))

    def declare(self, title: str = "Login outage", severity: str = "SEV1") -> int:
        response = self.post("/api/v1/incidents", {"title": title, "severity": severity}, role="lead")
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    def engine(self):
        from incident.extensions import db
        with self.app.app_context():
            return db.engine

    def describe(self) -> str:
        if self.kind == "sqlite":
            import sqlite3
            return f"SQLite {sqlite3.sqlite_version} (file {make_url(self.url).database})"
        with self.engine().connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
        return f"PostgreSQL {version} (database {make_url(self.url).database})"


def _pg_server_url(args) -> str | None:
    env = os.environ.get("BENCH_DATABASE_URL")
    if env:
        return normalize_url(env)
    return DEFAULT_PG_SERVER if args.postgres else None


@contextmanager
def bench_app(args):
    """Yield a Bench on a fresh, migrated database; the database is removed afterwards."""
    logging.getLogger().setLevel(logging.WARNING)
    server = _pg_server_url(args)
    tmpdir = tempfile.mkdtemp(prefix="tocsin-bench-")
    admin = None
    if server and server.startswith("postgresql"):
        name = f"tocsin_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        kind = "postgresql"
    else:
        url = "sqlite:///" + os.path.join(tmpdir, "bench.sqlite3")
        name, kind = None, "sqlite"
    app = None
    try:
        import flask_migrate

        from incident import create_app
        from incident.auth.service import create_token, create_user
        from incident.extensions import db

        app = create_app({"TESTING": False, "SECRET_KEY": "bench-secret-key", "SQLALCHEMY_DATABASE_URI": url,
                          "PUBLIC_BASE_URL": "http://tocsin.bench"})
        logging.getLogger().setLevel(logging.WARNING)  # create_app() set INFO: keep the output a table
        with app.app_context():
            import io
            from contextlib import redirect_stderr
            with redirect_stderr(io.StringIO()):
                flask_migrate.upgrade()
            logging.getLogger().setLevel(logging.WARNING)
            agent = create_user("agent@example.com", role="agent", name="Agent")
            lead = create_user("lead@example.com", role="lead", name="Lead")
            ids = agent.id, lead.id
            agent_token, lead_token = create_token("agent@example.com"), create_token("lead@example.com")
            db.session.remove()
        bench = Bench(app=app, url=url, kind=kind, agent_token=agent_token, lead_token=lead_token,
                      agent_id=ids[0], lead_id=ids[1], client=app.test_client())
        yield bench
    finally:
        if app is not None:
            from incident.extensions import db
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        if args.keep:
            print(f"kept the database: {url}")
        else:
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            shutil.rmtree(tmpdir, ignore_errors=True)
        if admin is not None:
            admin.dispose()


def vacuum(bench: Bench, table: str = "tickets") -> None:
    """Same starting state for timed runs: PostgreSQL VACUUM ANALYZE, SQLite WAL checkpoint."""
    engine = bench.engine()
    if bench.kind == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    else:
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            conn.execute(text(f"ANALYZE {table}"))
            conn.commit()


# ---------------------------------------------------------------- tickets

TAGS = ["eu", "us", "apac", "billing", "mobile", "web", "sso", "password", "2fa", "api", "android", "ios",
        "vip", "refund", "outage", "slow"]
SERVICES = ["auth", "web", "payments", "mobile-app", "api-gateway", "search"]
SUBJECTS = ["Cannot log in since this morning", "Login page shows error 502", "Password reset mail never came",
            "App crashes when I open settings", "Charged twice for one order", "Two-factor code is refused",
            "Export to CSV gives an empty file", "Search returns nothing at all", "Invoice shows the wrong VAT",
            "Single sign-on loops back to start", "Mobile app stuck on the splash", "API returns 500 on orders"]
SENTENCES = ["Since about nine o'clock I cannot get past the sign-in screen.",
             "I tried another browser and cleared the cache, it does not help.",
             "The page spins for a while and then shows a gateway error.",
             "My whole team is affected, we have a customer demo this afternoon.",
             "Yesterday everything worked as usual, nothing changed on our side.",
             "The mobile app says the session expired and logs me out again.",
             "We are on the enterprise plan and need this fixed urgently please.",
             "I attached a screenshot of the error and the time it happened.",
             "Resetting the password did not change anything, same message.",
             "Could you tell us whether this is a known problem on your side?",
             "Orders placed through the API are failing with a server error.",
             "The status page still says all systems are operational."]
FIRST = ["Ana", "Luca", "Maria", "Jonas", "Chen", "Fatima", "Olivier", "Sara", "Tom", "Priya", "Marco", "Eva"]
LAST = ["Rossi", "Müller", "Garcia", "Smith", "Novak", "Kowalski", "Dubois", "Jensen", "Silva", "Tanaka"]


def make_tickets(start: int, count: int, *, seed: int = 1, source: str = "zendesk", login_share: float = 0.6,
                 phone_share: float = 0.3) -> list[dict]:
    """`count` tickets numbered from `start`: distinct external ids and requester emails
    (customerN@example.com), ~30% with a valid Italian mobile (+39347 + 7 digits), tags with
    ~60% "login", ~40-char subjects and ~300-char descriptions, created over two hours."""
    rng = random.Random(seed * 1_000_003 + start)
    out = []
    span = 2 * 3600
    for n in range(start, start + count):
        tags = rng.sample(TAGS, rng.randint(1, 3))
        if rng.random() < login_share:
            tags.append("login")
        description = " ".join(rng.sample(SENTENCES, 5)) + f" Reference {n}."
        requester = {"name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "email": f"customer{n}@example.com"}
        if rng.random() < phone_share:
            requester["phone"] = f"+39347{rng.randrange(10_000_000):07d}"
        created = T0 + timedelta(seconds=rng.randrange(span))
        out.append({
            "external_id": f"ZD-{n}", "source": source,
            "subject": f"{rng.choice(SUBJECTS)} (#{n})",
            "description": description[:300] if len(description) > 300 else description,
            "requester": requester, "tags": tags,
            "services": rng.sample(SERVICES, rng.randint(0, 2)),
            "priority": rng.choice(["low", "normal", "normal", "high", "urgent"]),
            "status": rng.choice(["new", "open", "open", "open", "pending"]),
            "created_at": created.isoformat(),
        })
    return out


def batch_body(tickets: list[dict]) -> bytes:
    return json.dumps({"tickets": tickets}).encode()


def load_tickets(bench: Bench, total: int, *, batch: int = BATCH, seed: int = 1, start: int = 1,
                 **shape) -> float:
    """Ingest `total` tickets through the API in batches (`shape`: make_tickets' options);
    returns the seconds spent in requests."""
    spent = 0.0
    for first in range(start, start + total, batch):
        body = batch_body(make_tickets(first, min(batch, start + total - first), seed=seed, **shape))
        t = time.perf_counter()
        response = bench.post("/api/v1/tickets", body)
        spent += time.perf_counter() - t
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return spent


# ---------------------------------------------------------------- timing and memory

class Timer:
    """with Timer() as t: ...; t.seconds"""

    def __enter__(self):
        self.start = time.perf_counter()
        self.seconds = None
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False


def stop_child(proc: subprocess.Popen) -> None:
    """A helper process that ends when its stdin closes (the SMTP stand-ins): closed, waited for,
    terminated if it has not ended within 10 s."""
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(timeout=10)


def rss_kb() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RssSampler:
    """Samples VmRSS every `interval` seconds in a background thread; peak and before in kB."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.before = self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = None

    def _run(self):
        while not self._stop.is_set():
            value = rss_kb()
            self.samples += 1
            if value > self.peak:
                self.peak = value
            self._stop.wait(self.interval)

    def __enter__(self):
        self.before = self.peak = rss_kb()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kb())
        return False

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.before) / 1024


def median(values):
    return statistics.median(values)


def percentile(values, pct: float):
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest): no interpolation."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil
    return ordered[int(rank) - 1]


def web_login(client, email: str, password: str) -> None:
    """Log a test client in through /login as a browser does (CSRF token from the form)."""
    import re

    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on /login"
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": match.group(1)})
    assert response.status_code == 302, (response.status_code, response.get_data(as_text=True)[:300])


def machine() -> str:
    cpus = os.cpu_count()
    model = ""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpus} CPU(s), {model}, Python {sys.version.split()[0]}"


def load() -> str:
    """The load average: other work on the machine skews every figure, so print it."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPU(s)"


def table(title: str, rows: list[tuple], headers: tuple) -> str:
    cells = [tuple(str(c) for c in headers)] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [title, line]
    for index, row in enumerate(cells):
        out.append("| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                                     enumerate(zip(row, widths, strict=True))) + " |")
        if index == 0:
            out.append(line)
    out.append(line)
    return "\n".join(out)
