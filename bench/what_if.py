"""What if: ingest throughput with candidate fixes patched in, in this process only.

    python bench/what_if.py                                  # baseline, then each fix
    python bench/what_if.py --fixes nulls --postgres

Each fix below replaces one product function *in memory* (monkeypatching; no product file is
touched) with the change suggested in bench/README.md, so its effect can be measured before the
owner applies it. Every variant runs in a fresh process on a fresh database, same tickets.
Not run by `make bench` (only bench_*.py are).

  customers  ensure_requesters: plain Core INSERT ... ON CONFLICT DO NOTHING RETURNING id, email
             instead of the ORM bulk insert, which splits rows with and without a phone into
             thousands of tiny statements (its itertools.groupby on each row's key set).
  nulls      ensure_requesters unchanged but for execution_options={"render_nulls": True} on its
             inserts: the ORM then keeps rows with and without a phone in one statement (the
             one-line version of `customers`; check no column relies on a Python default for None).

Two earlier candidates are in the product now (incident/tickets/ingest.py): the existing-ticket
lookup joins unnest(:sources, :external_ids) on PostgreSQL (was a row-value IN that PostgreSQL
ran as a table scan per chunk), and the cyclic GC is paused for one batch request (gc_paused).
"""
from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import batch_body, bench_app, load, machine, make_tickets, parser, table  # noqa: E402

FIXES = ("customers", "nulls")  # alternatives: each replaces ensure_requesters


def fix_customers():
    from sqlalchemy import insert

    import incident.customers.service as customers
    import incident.tickets.ingest as ingest
    from incident.clock import utcnow
    from incident.customers.models import Customer
    from incident.dbutil import insert_ignoring_conflicts
    from incident.extensions import db

    table_ = Customer.__table__

    def ensure_requesters(requesters):
        emails = sorted({e for _, e, _ in requesters if e})
        phones = sorted({p for _, e, p in requesters if p and not e})
        by_email = customers._lookup(Customer.email, emails)
        by_phone = customers._lookup(Customer.phone, phones)
        now = utcnow()
        new_rows, seen = [], set()
        for name, email, phone in requesters:
            key = email or phone
            if not key or key in seen or (email and email in by_email) or (not email and phone in by_phone):
                continue
            seen.add(key)
            new_rows.append({"name": name or "", "email": email, "phone": phone, "locale": "en",
                             "channels": ["email"] if email else ["sms"], "created_at": now, "updated_at": now})
        connection = db.session.connection()
        with_email = [r for r in new_rows if r["email"]]
        if with_email:
            statement = insert_ignoring_conflicts(table_, ["email"]).returning(table_.c.id, table_.c.email)
            for start in range(0, len(with_email), customers.CHUNK):
                by_email.update((e, i) for i, e in connection.execute(statement, with_email[start:start + customers.CHUNK]))
            by_email.update(customers._lookup(Customer.email, [r["email"] for r in with_email
                                                               if r["email"] not in by_email]))
        without = [r for r in new_rows if not r["email"]]
        if without:
            connection.execute(insert(table_), without)
            by_phone.update(customers._lookup(Customer.phone, [r["phone"] for r in without]))
        return [by_email.get(e) if e else by_phone.get(p) if p else None for _, e, p in requesters]

    ingest.ensure_requesters = ensure_requesters


def fix_nulls():
    """ensure_requesters as it is, plus execution_options={"render_nulls": True} on its two inserts."""
    import incident.customers.service as customers
    import incident.tickets.ingest as ingest

    original_execute = customers.db.session.execute

    class Session:
        def __getattr__(self, name):
            return getattr(customers.db.session, name)

        def execute(self, statement, params=None, **kw):
            if getattr(statement, "is_insert", False) and isinstance(params, list):
                kw.setdefault("execution_options", {"render_nulls": True})
            return original_execute(statement, params, **kw)

    class DB:
        session = Session()

        def __getattr__(self, name):
            return getattr(customers.db, name)

    ensure = customers.ensure_requesters
    globals_ = dict(ensure.__globals__, db=DB())
    import types
    ingest.ensure_requesters = types.FunctionType(ensure.__code__, globals_, ensure.__name__, ensure.__defaults__,
                                                  ensure.__closure__)


def run_one(args, fixes: list[str]) -> dict:
    for name in fixes:
        globals()[f"fix_{name}"]()
    times = []
    with bench_app(args) as bench:
        for first in range(1, args.tickets + 1, args.batch):
            count = min(args.batch, args.tickets + 1 - first)
            body = batch_body(make_tickets(first, count, seed=args.seed))
            gc.collect()
            start = time.perf_counter()
            response = bench.post("/api/v1/tickets", body)
            times.append((time.perf_counter() - start, count))
            assert response.status_code == 200 and response.get_json()["created"] == count, response.get_data()[:300]
    return {"fixes": fixes, "times": times}


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--fixes", help="comma-separated fixes to apply together (one variant); "
                                   "default: none, each alone, then all")
    p.add_argument("--child", action="store_true", help=argparse_suppress())
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args, [f for f in (args.fixes or "").split(",") if f])))
        return 0
    variants = [args.fixes.split(",")] if args.fixes else [[], *[[f] for f in FIXES]]
    rows = []
    print(f"machine: {machine()}; {load()}", flush=True)
    for fixes in variants:
        unknown = set(fixes) - set(FIXES)
        if unknown:
            raise SystemExit(f"unknown fixes {unknown}; choose from {FIXES}")
        command = [sys.executable, __file__, "--child", "--tickets", str(args.tickets), "--batch", str(args.batch),
                   "--seed", str(args.seed), "--fixes", ",".join(fixes)] + (["--postgres"] if args.postgres else [])
        out = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        seconds = [s for s, _ in result["times"]]
        rates = [c / s for s, c in result["times"]]
        label = "+".join(fixes) or "as is"
        print(f"  {label}: " + " ".join(f"{s:.2f}" for s in seconds) + " s per batch", flush=True)
        rows.append((label, f"{args.tickets:,}", f"{sum(seconds):.2f}", f"{args.tickets / sum(seconds):,.0f}",
                     f"{min(rates):,.0f}", f"{statistics.median(rates):,.0f}"))
    print()
    print(table(f"What if: ingest with fixes patched in, {'postgresql' if args.postgres else 'sqlite'}", rows,
                ("fixes", "tickets", "seconds", "tickets/s", "min/s", "median/s")))
    print(load())
    return 0


def argparse_suppress():
    import argparse
    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
