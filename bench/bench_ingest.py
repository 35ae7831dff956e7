"""Ingest throughput through the batch API: POST /api/v1/tickets {"tickets": [...]}.

    python bench/bench_ingest.py                 # SQLite, 100,000 tickets in batches of 10,000
    python bench/bench_ingest.py --postgres      # the same on a scratch PostgreSQL database

Measures (request time only; the JSON bodies are built beforehand):
  1. N new tickets in batches -> tickets/s overall, per batch min / median / max;
  2. the last batch sent again -> the idempotent path (nothing changes);
  3. one more batch of new tickets while a link rule (tag "login") on an open incident
     catches ~60% of them -> the link-on-arrival path.
Beside step 1, a hand-written baseline writes the same batches on a fresh scratch database (json.loads,
then customers and tickets with the raw driver: sqlite3 executemany / psycopg COPY; no validation), and
the API's time is printed as a multiple of it. The API answers with a Server-Timing header (the time of
each step of the ingest); the median of each step over the new batches is printed.
With --known-issues N, N incidents carry a known issue (tags and match phrases; half resolved with a
fix) before step 1, so every new ticket is matched against them on arrival; the matching alone is
also timed on one batch's rows, without the database.
Target (issue 15): >= 20,000 tickets/s on SQLite and on PostgreSQL on a 2-core machine (printed, not asserted).
"""
from __future__ import annotations

import gc
import hashlib
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import TAGS, Timer, batch_body, bench_app, load, machine, make_tickets, median, parser, table  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from incident.server_timing import parse_header  # noqa: E402

TARGET = 20_000
# Phrases found in the generated tickets (common.SUBJECTS and SENTENCES): the first entries use one each.
FOUND_PHRASES = ["error 502", "gateway error", "two-factor code", "splash", "wrong vat"]


def add_known_issues(bench, count: int) -> None:
    """`count` incidents with a known issue each: two tags (a ticket needs both), two match phrases (the
    first five entries one that the tickets contain, the rest never), every other one resolved with a fix."""
    for n in range(count):
        incident_id = bench.declare(f"Known problem {n}", "SEV3")
        first, second = TAGS[n % len(TAGS)], TAGS[(n * 7 + 3) % len(TAGS)]
        tags = [first, second if second != first else TAGS[(n + 1) % len(TAGS)]]
        phrases = [FOUND_PHRASES[n] if n < len(FOUND_PHRASES) else f"widget {n} broken", f"code e{n:03d} shown"]
        response = bench.client.put(f"/api/v1/incidents/{incident_id}/known-issue", headers=bench.headers("lead"),
                                    json={"workaround": f"Workaround {n}", "fix": f"Fix {n}", "tags": tags,
                                          "match_phrases": phrases})
        assert response.status_code == 200, response.get_json()
        if n % 2:
            response = bench.post(f"/api/v1/incidents/{incident_id}/updates", {"status": "resolved"}, role="lead")
            assert response.status_code == 201, response.get_json()


def time_matching(bench, tickets: list[dict]) -> tuple[float, int]:
    """The pure matcher over one batch's tickets (entries loaded once): seconds and tickets matched."""
    from incident.known_issues.matching import load_matcher
    from incident.tickets.policy import encode_words

    with bench.app.app_context():
        matcher = load_matcher()
    rows = [(encode_words(t["tags"]).split(), t["subject"], t["description"]) for t in tickets]
    with Timer() as t:
        found = sum(1 for tags, subject, description in rows if matcher.match(tags, subject, description) is not None)
    return t.seconds, found


def counts(result: dict) -> dict:
    """The answer without its list of flagged tickets (thousands of them), with how many there are."""
    return {**{k: v for k, v in result.items() if k != "known_issue_matches"},
            "known_issue_matches": len(result.get("known_issue_matches", []))}


def send(bench, body: bytes, count: int, steps: list[dict] | None = None) -> tuple[float, dict]:
    """POST one batch: seconds and the answer; the Server-Timing steps (ms) appended to `steps`."""
    gc.collect()
    with Timer() as t:
        response = bench.post("/api/v1/tickets", body)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    if steps is not None:
        steps.append(parse_header(response.headers["Server-Timing"]))
    return t.seconds, response.get_json()


def step_rows(steps: list[dict], seconds: list[float]) -> list[tuple]:
    """Per step of the Server-Timing header: median ms a batch and its share of the median request."""
    request_ms = 1000 * median(seconds)
    rows = [(name, f"{median([s.get(name, 0.0) for s in steps]):.1f}",
             f"{100 * median([s.get(name, 0.0) for s in steps]) / request_ms:.0f}%") for name in steps[0]]
    inside = median([sum(s.values()) for s in steps])
    rows.append(("(outside the steps: routing, auth, JSON reply)", f"{request_ms - inside:.1f}",
                 f"{100 * (request_ms - inside) / request_ms:.0f}%"))
    rows.append(("whole request", f"{request_ms:.1f}", "100%"))
    return rows


def profile_batch(bench, body: bytes) -> None:
    """One more batch of new tickets under a profiler (pyinstrument when importable, else cProfile)."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None
    if Profiler is not None:
        profiler = Profiler(interval=0.001)
        profiler.start()
        bench.post("/api/v1/tickets", body)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))
        return
    import cProfile
    import pstats
    profiler = cProfile.Profile()
    profiler.enable()
    bench.post("/api/v1/tickets", body)
    profiler.disable()
    print("cProfile (pyinstrument is not installed; cProfile inflates Python-heavy code):")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"incident/|psycopg|sqlite3|phonenumbers", 30)


CUSTOMER_COLUMNS = ("id", "name", "email", "phone", "locale", "channels", "opted_out", "created_at", "updated_at")
TICKET_COLUMNS = ("source", "external_id", "subject", "description", "requester_name", "requester_email",
                  "requester_phone", "customer_id", "tags", "services", "priority", "status", "created_at",
                  "received_at", "updated_at", "content_hash")


class Baseline:
    """What a hand-written loader does with the same batches: json.loads, then customers and tickets
    written with the raw driver (sqlite3 executemany / psycopg COPY), one transaction a batch; no
    validation, customers known by email (else phone) in a dict, ids counted here."""

    def __init__(self, scratch) -> None:
        self.kind, self.customers, self.next_id = scratch.kind, {}, 1
        url = make_url(scratch.url)
        if self.kind == "sqlite":
            import sqlite3
            self.connection = sqlite3.connect(url.database)
            for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL", "cache_size=-32768"):
                self.connection.execute(f"PRAGMA {pragma}")   # as the app's connections (extensions.py)
        else:
            import psycopg
            self.connection = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))

    def write(self, body: bytes) -> None:
        now = datetime.now(timezone.utc)
        stamp = now.replace(tzinfo=None).isoformat(" ", "microseconds") if self.kind == "sqlite" else now
        customers, tickets = [], []
        for t in json.loads(body)["tickets"]:
            requester = t.get("requester", {})
            email, phone = requester.get("email"), requester.get("phone")
            key = email or phone
            customer_id = self.customers.get(key) if key else None
            if key and customer_id is None:
                customer_id = self.customers[key] = self.next_id
                self.next_id += 1
                customers.append((customer_id, requester.get("name", ""), email, phone, "en",
                                  '["ticket", "email"]' if email else '["ticket", "sms"]', "[]", stamp, stamp))
            created = datetime.fromisoformat(t["created_at"]).astimezone(timezone.utc)
            tags = " " + " ".join(sorted(set(t.get("tags", [])))) + " "
            services = " " + " ".join(sorted(set(t.get("services", [])))) + " "
            row = (t.get("source", "api"), t["external_id"], t.get("subject", ""), t.get("description", ""),
                   requester.get("name", ""), email, phone, customer_id, tags, services, t.get("priority"),
                   t.get("status", "open"),
                   created.replace(tzinfo=None).isoformat(" ", "microseconds") if self.kind == "sqlite" else created,
                   stamp, stamp)
            tickets.append((*row, hashlib.blake2b(repr(row).encode(), digest_size=16).hexdigest()))
        if self.kind == "sqlite":
            for table, columns, rows in (("customers", CUSTOMER_COLUMNS, customers),
                                         ("tickets", TICKET_COLUMNS, tickets)):
                marks = ", ".join("?" * len(columns))
                self.connection.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        else:
            with self.connection.cursor() as cursor:
                for table, columns, rows in (("customers", CUSTOMER_COLUMNS, customers),
                                             ("tickets", TICKET_COLUMNS, tickets)):
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for values in rows:
                            copy.write_row(values)
        self.connection.commit()


def run_baseline(args, batches: list[tuple[bytes, int]]) -> list[float]:
    """The hand-written loader over the same batches on a fresh scratch database: seconds a batch."""
    with bench_app(args) as scratch:
        baseline = Baseline(scratch)
        try:
            times = []
            for body, _count in batches:
                gc.collect()
                with Timer() as t:
                    baseline.write(body)
                times.append(t.seconds)
        finally:
            baseline.connection.close()
    return times


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--profile", action="store_true",
                   help="profile one extra batch of new tickets after the timed ones and print the profile")
    p.add_argument("--known-issues", type=int, default=0, metavar="N",
                   help="N incidents with a known issue before the timed batches (default 0)")
    args = p.parse_args(argv)
    n, size = args.tickets, args.batch
    with bench_app(args) as bench:
        print(f"machine: {machine()}; {load()}")
        print(f"database: {bench.describe()}")
        print(f"building {n:,} tickets in batches of {size:,} ...", flush=True)
        t = time.perf_counter()
        batches = []
        for first in range(1, n + 1, size):
            count = min(size, n + 1 - first)
            batches.append((batch_body(make_tickets(first, count, seed=args.seed)), count))
        rule_count = min(size, n) or size
        rule_body = batch_body(make_tickets(n + 1, rule_count, seed=args.seed))
        print(f"  built in {time.perf_counter() - t:.1f} s "
              f"({sum(len(b) for b, _ in batches) / 1e6:.1f} MB of JSON)", flush=True)

        if args.known_issues:
            add_known_issues(bench, args.known_issues)
            print(f"  {args.known_issues} known issues recorded", flush=True)

        # 1. new tickets
        times, created, flagged, steps = [], 0, 0, []
        for index, (body, count) in enumerate(batches, 1):
            seconds, result = send(bench, body, count, steps)
            times.append((seconds, count))
            created += result["created"]
            flagged += len(result["known_issue_matches"])
            print(f"  batch {index:>3}: {count:,} tickets in {seconds:.3f} s = {count / seconds:,.0f}/s "
                  f"{counts(result)}", flush=True)
        assert created == n, f"created {created} of {n}"
        total = sum(s for s, _ in times)
        rates = [c / s for s, c in times]

        # 1b. the same batches by hand, raw driver, fresh scratch database
        base_times = run_baseline(args, batches)
        base_total = sum(base_times)
        base_rates = [c / s for s, (_, c) in zip(base_times, batches, strict=True)]
        print(f"  hand-written baseline: {n:,} tickets in {base_total:.3f} s = {n / base_total:,.0f}/s", flush=True)

        # 2. the same batch again: all unchanged
        body, count = batches[-1]
        again_seconds, again = send(bench, body, count)
        assert again["unchanged"] == count, again
        print(f"  re-sent last batch: {again_seconds:.3f} s {counts(again)}", flush=True)

        if args.profile:
            profile_batch(bench, batch_body(make_tickets(n + size + 1, size, seed=args.seed)))

        # 3. a batch with a link rule catching ~60%
        incident_id = bench.declare("Login outage", "SEV1")
        response = bench.post(f"/api/v1/incidents/{incident_id}/link-rules", {"tags": ["login"]})
        assert response.status_code == 201, response.get_json()
        rule_seconds, ruled = send(bench, rule_body, rule_count)
        print(f"  batch with a link rule: {rule_seconds:.3f} s {counts(ruled)}", flush=True)

        rows = [
            (f"new tickets ({len(batches)} x {size:,})", f"{n:,}", f"{total:.2f}", f"{n / total:,.0f}",
             f"{min(rates):,.0f}", f"{median(rates):,.0f}", f"{max(rates):,.0f}"),
            (f"hand-written baseline, raw {'sqlite3' if bench.kind == 'sqlite' else 'psycopg COPY'}",
             f"{n:,}", f"{base_total:.2f}", f"{n / base_total:,.0f}", f"{min(base_rates):,.0f}",
             f"{median(base_rates):,.0f}", f"{max(base_rates):,.0f}"),
            ("re-send last batch (unchanged)", f"{count:,}", f"{again_seconds:.2f}",
             f"{count / again_seconds:,.0f}", "", "", ""),
            (f"new batch, rule links {ruled['linked']:,}", f"{rule_count:,}", f"{rule_seconds:.2f}",
             f"{rule_count / rule_seconds:,.0f}", "", "", ""),
        ]
        if args.known_issues:
            match_seconds, matched = time_matching(bench, make_tickets(1, min(size, n), seed=args.seed))
            rows.append((f"matching alone, {args.known_issues} known issues (no database)", f"{min(size, n):,}",
                         f"{match_seconds:.3f}", f"{min(size, n) / match_seconds:,.0f}", "", "", ""))
            print(f"  {flagged:,} of {n:,} new tickets looked like a known issue; matching alone: "
                  f"{1e6 * match_seconds / min(size, n):.1f} µs a ticket ({matched:,} of {min(size, n):,} matched)")
        print()
        print(table(f"Ingest through POST /api/v1/tickets on {bench.kind} — {machine()}", rows,
                    ("case", "tickets", "seconds", "tickets/s", "min/s", "median/s", "max/s")))
        print()
        print(table(f"Server-Timing of the {len(batches)} new batches: median ms a batch", step_rows(
            steps, [s for s, _ in times]), ("step", "ms", "share")))
        print(f"API / hand-written baseline: {total / base_total:.2f}x the time "
              f"({n / total:,.0f}/s against {n / base_total:,.0f}/s)")
        print(load())
        verdict = "meets" if n / total >= TARGET else "MISSES"
        print(f"target >= {TARGET:,} tickets/s on SQLite and PostgreSQL (issue 15): overall {n / total:,.0f}/s on "
              f"{bench.kind} -> {verdict} (measured, not asserted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
