"""The Customers pages with 100,000 customers: the CSV import, then searches and one customer's page.

    python bench/bench_customers.py                  # SQLite, 100,000 customers
    python bench/bench_customers.py --postgres       # the same on a scratch PostgreSQL database

Imports N customers from one generated CSV through the page's own import (POST /customers/import,
its progress streamed), then times whole requests as a logged-in viewer (masked contacts):

  list, first page           GET /customers
  list, a far page           GET /customers?after=<id near the end>   (keyset: as fast as the first)
  name, common               GET /customers?q=rossi          (many match: the first 50 come quickly)
  name, rare                 GET /customers?q=<one name>     (one matches: every row is looked at)
  email prefix               GET /customers?q=c99999@
  phone                      GET /customers?q=+39 347 ...    (indexed)
  external id                GET /customers?q=CRM-77777      (unique index)
  segment + service          GET /customers?segment=enterprise&service=payments
  one customer               GET /customers/<id>

Each case: --warmup requests (default 3), then --requests timed ones (default 20). Nothing is asserted.
"""
from __future__ import annotations

import io
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_page import measure  # noqa: E402
from common import bench_app, load, machine, median, parser, percentile, table, vacuum, web_login  # noqa: E402

PASSWORD = "bench-password-123"
SURNAMES = ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
            "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti"]
SEGMENTS = ["enterprise", "smb", "startup", "public"]
SERVICES = ["login", "payments", "api", "search", "mobile"]


def make_csv(count: int, seed: int) -> str:
    """A CRM export: external id, name, email, a phone on ~40%, segment, channels, services."""
    rng = random.Random(seed)
    lines = ["external_id,name,email,phone,segment,channels,services"]
    for n in range(1, count + 1):
        phone = f"+39347{n:07d}" if rng.random() < 0.4 else ""
        channels = "email sms" if phone and rng.random() < 0.5 else "email"
        services = " ".join(rng.sample(SERVICES, rng.randint(0, 2)))
        lines.append(f"CRM-{n},Customer {n} {rng.choice(SURNAMES)},c{n}@example.com,{phone},"
                     f"{rng.choice(SEGMENTS)},{channels},{services}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0], tickets=100_000)
    p.add_argument("--requests", type=int, default=20, help="timed requests per case (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed requests first (default 3)")
    args = p.parse_args(argv)
    count = args.tickets   # --tickets N: how many customers
    with bench_app(args) as bench:
        from incident.auth.service import create_user
        from incident.extensions import db

        with bench.app.app_context():
            create_user("import-lead@example.com", role="lead", password=PASSWORD)
            create_user("viewer@example.com", role="viewer", password=PASSWORD)
            db.session.remove()
        print(f"machine: {machine()}; {load()}")
        print(f"database: {bench.describe()}")
        text = make_csv(count, args.seed)
        lead = bench.app.test_client()
        web_login(lead, "import-lead@example.com", PASSWORD)
        token = re.search(r'name="csrf_token" value="([^"]+)"', lead.get("/customers").get_data(as_text=True)).group(1)
        print(f"importing {count:,} customers ({len(text) / 1e6:.1f} MB CSV) through POST /customers/import ...",
              flush=True)
        started = time.perf_counter()
        response = lead.post("/customers/import", content_type="multipart/form-data",
                             data={"file": (io.BytesIO(text.encode()), "crm.csv"), "csrf_token": token})
        first_step, tail = None, b""
        for chunk in response.response:   # the streamed page, as a browser reads it
            if first_step is None and b"data-stage" in chunk:
                first_step = time.perf_counter() - started
            tail = (tail + chunk)[-2000:]
        spent = time.perf_counter() - started
        result = re.search(rb'id="import-result"[^>]*>([^<]+)', tail)
        print(f"  {result.group(1).decode() if result else 'NO RESULT: ' + tail.decode()[-300:]}")
        print(f"  imported in {spent:.1f} s; first progress line after {first_step or 0:.2f} s", flush=True)
        vacuum(bench, "customers")
        client = bench.app.test_client()
        web_login(client, "viewer@example.com", PASSWORD)
        cases = [
            ("list, first page", "/customers"),
            ("list, a far page (keyset)", f"/customers?after={count - 100}"),
            ("name, common (q=rossi)", "/customers?q=rossi"),
            ("name, rare (one match)", f"/customers?q=Customer+{count - 7}+"),
            ("email prefix", f"/customers?q=c{count - 1}@"),
            ("phone, another form", "/customers?q=%2B39+347+000+0010"),
            ("external id", f"/customers?q=CRM-{count // 2}"),
            ("segment + service", "/customers?segment=enterprise&service=payments"),
            ("one customer", f"/customers/{count // 2}"),
        ]
        rows = []
        print(f"timing {args.requests} requests per case after {args.warmup} untimed; {load()}", flush=True)
        for name, path in cases:
            ms = measure(client, path, warmup=args.warmup, requests=args.requests)
            rows.append((name, f"{min(ms):.1f}", f"{median(ms):.1f}", f"{percentile(ms, 95):.1f}", f"{max(ms):.1f}"))
            print(f"  {name}: median {median(ms):.1f} ms, p95 {percentile(ms, 95):.1f} ms", flush=True)
        print()
        print(table(f"Customers pages with {count:,} customers on {bench.kind}, {args.requests} requests each "
                    f"(ms) — {machine()}", rows, ("case", "min", "median", "p95", "max")))
        print(f"CSV import of {count:,} customers: {spent:.1f} s")
        print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
