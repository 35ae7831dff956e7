"""Reports: GET /api/v1/reports/summary over a year of incidents, beside hand-written SQL.

    python bench/bench_reports.py               # SQLite: 5,000 incidents, 1,000,000 linked tickets, 50,000 steps
    python bench/bench_reports.py --postgres    # the same on a scratch PostgreSQL database

Builds a year of history straight into the database with bulk INSERTs (COPY on PostgreSQL), the
way a busy support organisation's would look (see `build`): incidents over 365 days with
severities, services, acknowledgement and resolution times; public and internal status updates;
timeline events (some incidents reopened); escalations under three policies with their steps
(levels, rounds, breaches, swarms); linked tickets spread over the incidents with a long tail (a
few floods of tens of thousands, most incidents a few dozen), tagged like real floods (each
incident's own two or three tags on most of its tickets, and noise); broadcasts with one outbox
row per customer (sent, delivered, failed, fallen back) and a page per escalation step.

The clock is frozen at the end of that year. Then, alternating, --runs times each:
  API:  GET /api/v1/reports/summary for the whole year (every incident, every ticket), for the
        default period (the last 90 days), for SEV1 over the year, and for one tag over the year,
        through the Flask test client with a viewer's token (the whole request);
  SQL:  the main aggregates written by hand: MTTA and MTTR median and p90 over the year
        (percentile_cont on PostgreSQL; on SQLite the sorted durations fetched and picked in
        Python), and the ten tags on most linked tickets of the year (the tickets counted per
        stored tag set, the sets split in the database: unnest / json_each).
Target from the issue: the summary <= 1 s with 5,000 incidents on both databases (median;
printed, not asserted).
"""
from __future__ import annotations

import gc
import math
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import FIRST, LAST, SENTENCES, SUBJECTS, Timer, bench_app, load, machine, median, parser, table  # noqa: E402
from sqlalchemy import bindparam, text  # noqa: E402

TARGET_SECONDS = 1.0
NOW = datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc)
DAYS = 365
SERVICES = ["login", "api", "billing", "payments", "search", "exports", "email", "mobile-app", "web", "sso",
            "checkout", "notifications"]
TAGS = ["login", "password", "2fa", "sso", "eu", "us", "apac", "billing", "invoice", "refund", "vat", "mobile",
        "android", "ios", "web", "api", "timeout", "500", "502", "slow", "export", "csv", "search", "checkout",
        "cart", "email", "bounce", "sms", "vip", "enterprise", "outage", "data", "sync", "upload", "download",
        "webhook", "integration", "zendesk", "slack", "report", "dashboard", "permissions", "account", "signup",
        "cancel", "plan", "card", "declined", "3ds", "latency"]
SEVERITIES = (("SEV1", 0.05), ("SEV2", 0.20), ("SEV3", 0.45), ("SEV4", 0.30))
ACK_MEDIAN = {"SEV1": 180, "SEV2": 420, "SEV3": 900, "SEV4": 1800}            # seconds
RESOLVE_MEDIAN = {"SEV1": 2 * 3600, "SEV2": 4 * 3600, "SEV3": 8 * 3600, "SEV4": 24 * 3600}
POLICIES = {"default": [("L1", 900), ("L2", 1800), ("engineering", 900)],
            "sev1": [("L1", 300), ("engineering", 600)],
            "payments": [("L1", 600), ("payments-l2", 1800), ("engineering", 900)]}
CHANNELS = (("email", 0.6), ("sms", 0.25), ("slack", 0.1), ("ticket", 0.05))
CHUNK = 10_000


def lognormal(rng: random.Random, median_seconds: float, sigma: float = 0.9) -> float:
    return median_seconds * math.exp(rng.gauss(0, sigma))


def weighted(rng: random.Random, pairs) -> str:
    return rng.choices([k for k, _ in pairs], weights=[w for _, w in pairs])[0]


def spread(total: int, weights: list[float]) -> list[int]:
    """`total` split in proportion to `weights`, summing exactly to `total`."""
    whole = sum(weights)
    counts = [int(total * w / whole) for w in weights]
    order = sorted(range(len(weights)), key=lambda i: -weights[i])
    for i in range(total - sum(counts)):
        counts[order[i % len(order)]] += 1
    return counts


# ---------------------------------------------------------------- the data set

def plan_incidents(rng: random.Random, n: int) -> list[dict]:
    """Incidents over the year before NOW, with their times (declared, acknowledged, resolved)."""
    incidents = []
    for i in range(1, n + 1):
        severity = weighted(rng, SEVERITIES)
        declared = NOW - timedelta(seconds=rng.uniform(0, DAYS * 86400))
        acked = declared + timedelta(seconds=lognormal(rng, ACK_MEDIAN[severity])) if rng.random() < 0.92 else None
        still_open = declared > NOW - timedelta(days=2) and rng.random() < 0.5
        resolved = None if still_open else (acked or declared) + timedelta(
            seconds=lognormal(rng, RESOLVE_MEDIAN[severity]))
        if resolved is not None and resolved > NOW:
            resolved = None
        if acked is not None and acked > NOW:
            acked = None
        theme = rng.sample(TAGS, 3)
        incidents.append({
            "id": i, "severity": severity, "declared_at": declared, "acknowledged_at": acked, "resolved_at": resolved,
            "status": "resolved" if resolved else rng.choice(["investigating", "identified", "monitoring"]),
            "mode": "swarm" if rng.random() < 0.05 else "tiered",
            "services": rng.sample(SERVICES, rng.choice((1, 1, 1, 2, 2, 3))), "theme": theme,
            "policy": "sev1" if severity == "SEV1" else ("payments" if rng.random() < 0.2 else "default"),
            "reopened": 1 if rng.random() < 0.03 else 0,
        })
    for incident in rng.sample(incidents[50:], n // 200):   # a few duplicates, merged into an earlier one
        incident["merged_into_id"] = rng.randrange(1, incident["id"])
        if incident["resolved_at"] is None:
            incident["resolved_at"], incident["status"] = incident["declared_at"] + timedelta(minutes=20), "resolved"
    return incidents


def incident_rows(incidents: list[dict], lead_id: int) -> dict[str, list[dict]]:
    services = [{"id": i, "name": name, "created_at": NOW - timedelta(days=DAYS + 1)}
                for i, name in enumerate(SERVICES, 1)]
    service_id = {s["name"]: s["id"] for s in services}
    rows = [{"id": i["id"], "title": f"Incident {i['id']}: {' '.join(i['theme'])}", "severity": i["severity"],
             "status": i["status"], "summary": "", "mode": i["mode"], "declared_at": i["declared_at"],
             "declared_by_id": lead_id, "updated_at": i["resolved_at"] or i["declared_at"],
             "acknowledged_at": i["acknowledged_at"], "resolved_at": i["resolved_at"],
             "escalation_policy": i["policy"], "solve_tickets_on_resolve": True,
             "merged_into_id": None, "tickets_version": 1, "slack_channel_id": None} for i in incidents]
    links = [{"incident_id": i["id"], "service_id": service_id[s]} for i in incidents for s in i["services"]]
    return {"services": services, "incidents": rows, "incident_services": links}


def update_rows(rng: random.Random, incidents: list[dict], lead_id: int) -> tuple[list[dict], list[dict]]:
    """Status updates (most public, some internal) and timeline events (declared, changes, reopens)."""
    updates, events = [], []
    for i in incidents:
        at = i["declared_at"]
        events.append({"incident_id": i["id"], "at": at, "kind": "declared", "actor_id": lead_id,
                       "actor": "lead@example.com", "data": {"severity": i["severity"]}})
        end = i["resolved_at"] or NOW
        for n in range(rng.randint(1, 6)):
            at = at + timedelta(seconds=lognormal(rng, 600 if n == 0 else 1800))
            if at >= end:
                break
            updates.append({"incident_id": i["id"], "status": "identified", "message": "Still working on it.",
                            "public": rng.random() < 0.75, "created_at": at, "author_id": lead_id})
            events.append({"incident_id": i["id"], "at": at, "kind": "update_posted", "actor_id": lead_id,
                           "actor": "lead@example.com", "data": {"status": "identified", "public": True}})
        if i["resolved_at"]:
            for _ in range(i["reopened"]):
                events.append({"incident_id": i["id"], "at": i["resolved_at"] - timedelta(minutes=30),
                               "kind": "status_changed", "actor_id": lead_id, "actor": "lead@example.com",
                               "data": {"from": "resolved", "to": "investigating", "reopened": True}})
            updates.append({"incident_id": i["id"], "status": "resolved", "message": "Fixed.", "public": True,
                            "created_at": i["resolved_at"], "author_id": lead_id})
            events.append({"incident_id": i["id"], "at": i["resolved_at"], "kind": "status_changed",
                           "actor_id": lead_id, "actor": "lead@example.com",
                           "data": {"from": "monitoring", "to": "resolved", "reopened": False}})
    return updates, events


def busy_timeline(incidents: list[dict], counts: list[int], steps: list[dict]) -> list[dict]:
    """The rest of a real timeline: a `tickets_linked` event per five tickets (link rules link webhook
    arrivals a few at a time), a `paged` event per page and an `escalation_breached` per breach."""
    events = []
    for incident, count in zip(incidents, counts, strict=True):
        for k in range(0, count, 5):
            events.append({"incident_id": incident["id"], "at": incident["declared_at"] + timedelta(seconds=30 + k),
                           "kind": "tickets_linked", "actor_id": None, "actor": "system",
                           "data": {"count": min(5, count - k), "method": "rule"}})
    for step in steps:
        if not step["skipped"]:
            events.append({"incident_id": step["incident_id"], "at": step["paged_at"], "kind": "paged",
                           "actor_id": None, "actor": "system", "data": {"level": step["level_name"]}})
        if step["breached_at"]:
            events.append({"incident_id": step["incident_id"], "at": step["breached_at"], "kind": "escalation_breached",
                           "actor_id": None, "actor": "system", "data": {"level": step["level_name"]}})
    return events


def escalation_rows(rng: random.Random, incidents: list[dict], steps_total: int) -> tuple[list[dict], list[dict]]:
    """An escalation for most incidents, and `steps_total` steps among them: each level paged in turn
    (a swarm pages them all at once), breached when nobody acknowledged within its timeout, round
    after round; the step during which the incident was acknowledged ends acknowledged."""
    escalated = [i for i in incidents if rng.random() < 0.85 and "merged_into_id" not in i]
    counts = spread(steps_total, [rng.paretovariate(2.5) for _ in escalated])
    escalations, steps = [], []
    for incident, count in zip(escalated, counts, strict=True):
        levels = POLICIES[incident["policy"]]
        escalations.append({"incident_id": incident["id"], "policy_name": incident["policy"],
                            "snapshot": {"policy": {"name": incident["policy"]}}, "mode": incident["mode"],
                            "state": "acknowledged" if incident["acknowledged_at"] else "exhausted",
                            "level_index": 0, "round": 0, "started_at": incident["declared_at"],
                            "next_deadline_at": None, "version": 1})
        at, made, rnd = incident["declared_at"] + timedelta(seconds=30), 0, 0
        while made < count:
            group = range(len(levels)) if incident["mode"] == "swarm" else [made % len(levels)]
            timeout = min(levels[k][1] for k in group)
            for k in group:
                if made == count:
                    break
                last = made == count - 1
                deadline = at + timedelta(seconds=timeout)
                acked = last and incident["acknowledged_at"] is not None
                skipped = "nobody on call" if rng.random() < 0.02 and not last else None
                steps.append({"incident_id": incident["id"], "level_index": k, "level_name": levels[k][0],
                              "round": rnd, "paged_at": at, "deadline": None if skipped else deadline,
                              "breached_at": None if (last or skipped) else deadline,
                              "acknowledged_at": incident["acknowledged_at"] if acked else None,
                              "ended_at": at if skipped else (incident["acknowledged_at"] if acked else deadline),
                              "skipped": skipped, "recipients": ["oncall@example.com"], "channels": ["slack", "sms"]})
                made += 1
            at += timedelta(seconds=timeout)
            if incident["mode"] == "swarm" or made % len(levels) == 0:
                rnd += 1
    return escalations, steps


def ticket_rows(rng: random.Random, incidents: list[dict], counts: list[int], start: int = 1):
    """`counts[i]` linked tickets for incident i, yielded in chunks of CHUNK dicts."""
    number, chunk = start, []
    for incident, count in zip(incidents, counts, strict=True):
        theme, declared = incident["theme"], incident["declared_at"]
        for _ in range(count):
            tags = {t for t in theme if rng.random() < 0.8} | set(rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2))))
            services = set(incident["services"][:1]) if rng.random() < 0.7 else set()
            if rng.random() < 0.1:
                services.add(rng.choice(SERVICES))
            created = declared + timedelta(seconds=rng.uniform(-1800, 3 * 3600))
            description = " ".join(rng.sample(SENTENCES, 5)) + f" Reference {number}."
            chunk.append({
                "source": "zendesk", "external_id": f"ZD-{number}", "subject": f"{rng.choice(SUBJECTS)} (#{number})",
                "description": description[:300], "requester_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                "requester_email": f"customer{number}@example.com", "requester_phone": None, "customer_id": None,
                "tags": " " + " ".join(sorted(tags)) + " " if tags else " ",
                "services": " " + " ".join(sorted(services)) + " " if services else " ",
                "priority": "normal", "status": "open", "created_at": created, "received_at": created,
                "updated_at": created, "solved_at": None, "content_hash": f"{number:032x}",
                "incident_id": incident["id"], "linked_at": created + timedelta(minutes=5),
                "link_method": "rule", "link_action_id": None})
            number += 1
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def delivery_rows(rng: random.Random, incidents: list[dict], steps: list[dict], recipients: int):
    """A page per paged step, and broadcasts: one send to up to a few thousand customers each for
    ~15% of the incidents, `recipients` outbox rows in all, with what the dispatcher leaves behind."""
    rows = []
    for n, step in enumerate(steps):
        if not step["skipped"]:
            rows.append({"purpose": "page", "dedupe_key": f"page:{n}", "incident_id": step["incident_id"],
                         "channel": "slack", "recipient": "UONCALL", "status": "sent", "attempts": 1,
                         "next_attempt_at": step["paged_at"], "created_at": step["paged_at"],
                         "sent_at": step["paged_at"], "updated_at": step["paged_at"], "error": None, "headers": None})
    chosen = rng.sample([i for i in incidents if "merged_into_id" not in i], len(incidents) * 15 // 100)
    sizes = spread(recipients, [rng.paretovariate(1.5) for _ in chosen])
    broadcasts, sends = [], []
    for b, (incident, size) in enumerate(zip(chosen, sizes, strict=True), 1):
        first = incident["declared_at"] + timedelta(seconds=lognormal(rng, 1800))
        broadcasts.append({"id": b, "incident_id": incident["id"], "kind": "apology", "channels": ["email", "sms"],
                           "audience": {"ticket_requesters": True}, "message": "", "important": False,
                           "send_at": first, "status": "done", "created_at": first, "updated_at": first})
        sends.append({"id": b, "broadcast_id": b, "number": 1, "due_at": first, "status": "queued",
                      "recipients": size, "prepared_at": first})
        for c in range(size):
            channel, error, headers = weighted(rng, CHANNELS), None, None
            roll = rng.random()
            status = "failed" if roll < 0.03 else "queued" if roll < 0.04 else "sent"
            if status == "sent" and roll < 0.08:   # failed for good on email, moved on to SMS, sent there
                error, channel = "email: 550 mailbox unavailable; trying sms", "sms"
            if status == "sent" and channel == "sms" and rng.random() < 0.7:
                status = "delivered"
            sent = first + timedelta(seconds=c / 50) if status in ("sent", "delivered") else None
            rows.append({"purpose": "broadcast", "dedupe_key": f"b:{b}:{c}", "incident_id": incident["id"],
                         "send_id": b, "channel": channel, "recipient": f"customer{c}@example.com", "status": status,
                         "attempts": 1, "next_attempt_at": first, "created_at": first, "sent_at": sent,
                         "updated_at": sent or first, "error": error if status != "failed" else f"{channel}: 21211",
                         "headers": headers})
    return broadcasts, sends, rows


def insert(bench, table_name: str, rows) -> None:
    """Bulk INSERT (Core executemany; COPY on PostgreSQL for the big tables) of dicts in chunks."""
    from incident.extensions import db

    with bench.app.app_context():
        table_ = db.metadata.tables[table_name]
        chunks = rows if not isinstance(rows, list) else (rows[k:k + CHUNK] for k in range(0, len(rows), CHUNK))
        engine = db.engine
        if bench.kind == "postgresql":
            _copy(engine, table_, chunks)
            return
        with engine.begin() as conn:
            for chunk in chunks:
                conn.execute(table_.insert(), chunk)


def _copy(engine, table_, chunks) -> None:
    import json

    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        columns: list[str] = []
        json_columns = {c.name for c in table_.columns if c.type.__class__.__name__ == "JSON"}
        for chunk in chunks:
            if not chunk:
                continue
            defaults = {c.name: c.default.arg(None) if callable(c.default.arg) else c.default.arg
                        for c in table_.columns if c.default is not None and c.name not in chunk[0]}
            columns = columns or list(chunk[0]) + list(defaults)
            chunk = [{**defaults, **row} for row in chunk]
            with cursor.copy(f"COPY {table_.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in chunk:
                    copy.write_row([json.dumps(row[c]) if c in json_columns and row[c] is not None else row[c]
                                    for c in columns])
        raw.commit()
    finally:
        raw.close()


def build(bench, args) -> dict:
    """The year of history; returns what was made."""
    rng = random.Random(args.seed)
    incidents = plan_incidents(rng, args.incidents)
    for name, rows in incident_rows(incidents, bench.lead_id).items():
        insert(bench, name, rows)
    merged = [{"id": i["id"], "merged_into_id": i["merged_into_id"]} for i in incidents if "merged_into_id" in i]
    with bench.engine().begin() as conn:
        conn.execute(text("UPDATE incidents SET merged_into_id = :merged_into_id WHERE id = :id"), merged)
    updates, events = update_rows(rng, incidents, bench.lead_id)
    escalations, steps = escalation_rows(rng, incidents, args.steps)
    counts = spread(args.tickets, [rng.paretovariate(1.1) for _ in incidents])
    events += busy_timeline(incidents, counts, steps)
    insert(bench, "incident_updates", updates)
    insert(bench, "timeline_events", events)
    insert(bench, "incident_escalations", escalations)
    insert(bench, "escalation_steps", steps)
    insert(bench, "tickets", ticket_rows(rng, incidents, counts))
    broadcasts, sends, deliveries = delivery_rows(rng, incidents, steps, args.recipients)
    insert(bench, "broadcasts", broadcasts)
    insert(bench, "broadcast_sends", sends)
    insert(bench, "deliveries", deliveries)
    if bench.kind == "postgresql":
        with bench.engine().begin() as conn:
            for name in ("incidents", "services", "broadcasts", "broadcast_sends"):   # ids given above
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                  f"(SELECT max(id) FROM {name}))"))
    return {"incidents": len(incidents), "updates": len(updates), "events": len(events), "steps": len(steps),
            "deliveries": len(deliveries), "broadcasts": len(broadcasts)}


def tidy(bench) -> None:
    """PostgreSQL VACUUM ANALYZE (index-only scans need the visibility map); SQLite ANALYZE."""
    engine = bench.engine()
    if bench.kind == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            conn.execute(text("ANALYZE"))
            conn.commit()


YEAR = {"since": (NOW - timedelta(days=DAYS)).date().isoformat(), "until": (NOW - timedelta(days=1)).date().isoformat()}
CASES = (("summary, the whole year", "/api/v1/reports/summary", YEAR),
         ("summary, default: last 90 days", "/api/v1/reports/summary", {}),
         ("summary, SEV1 over the year", "/api/v1/reports/summary", {**YEAR, "severity": "SEV1"}),
         ("summary, tag login over the year", "/api/v1/reports/summary", {**YEAR, "tag": "login"}),
         ("incidents.csv, the whole year", "/api/v1/reports/incidents.csv", YEAR))
DURATIONS_SQL = {
    "postgresql": "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), percentile_cont(0.9) WITHIN GROUP (ORDER BY d) "
                  "FROM (SELECT EXTRACT(EPOCH FROM {end} - declared_at) AS d FROM incidents WHERE declared_at >= :since "
                  "AND declared_at < :until AND merged_into_id IS NULL AND {end} IS NOT NULL) AS t",
    "sqlite": "SELECT (julianday({end}) - julianday(declared_at)) * 86400.0 AS d FROM incidents WHERE declared_at >= :since "
              "AND declared_at < :until AND merged_into_id IS NULL AND {end} IS NOT NULL ORDER BY d"}
SETS = ("SELECT tags, count(*) AS n FROM tickets WHERE incident_id IN (SELECT id FROM incidents WHERE declared_at >= :since "
        "AND declared_at < :until AND merged_into_id IS NULL) AND tags <> ' ' GROUP BY tags")
TAGS_SQL = {   # the top ten tags, the tag sets split in the database
    "postgresql": f"SELECT tag, sum(n) FROM ({SETS}) AS sets, unnest(string_to_array(btrim(sets.tags), ' ')) AS tag "
                  "GROUP BY tag ORDER BY 2 DESC, 1 LIMIT 10",
    "sqlite": f"SELECT j.value, sum(n) FROM ({SETS}) AS sets, json_each('[\"' || replace(trim(sets.tags), ' ', '\",\"') "
              "|| '\"]') AS j GROUP BY j.value ORDER BY 2 DESC, 1 LIMIT 10"}


def run_api(bench, path: str, params: dict) -> tuple[float, int]:
    with Timer() as t:
        response = bench.client.get(path, query_string=params, headers=bench.headers())
        body = response.get_data()
    assert response.status_code == 200, body[:500]
    return t.seconds, len(body)


def run_sql(bench) -> tuple[float, dict]:
    """The main aggregates by hand over the year: MTTA and MTTR median and p90, the top ten tags."""
    from incident.types import UTCDateTime

    since = datetime.fromisoformat(YEAR["since"]).replace(tzinfo=timezone.utc)
    until = datetime.fromisoformat(YEAR["until"]).replace(tzinfo=timezone.utc) + timedelta(days=1)
    bound = {"since": since, "until": until}
    out = {}
    with Timer() as t, bench.engine().connect() as conn:
        for name, end in (("mtta", "acknowledged_at"), ("mttr", "resolved_at")):
            statement = text(DURATIONS_SQL[bench.kind].format(end=end)).bindparams(
                bindparam("since", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime()))
            if bench.kind == "postgresql":
                out[name] = tuple(float(v) for v in conn.execute(statement, bound).one())
            else:
                values = [row[0] for row in conn.execute(statement, bound)]
                out[name] = (percentile(values, 50), percentile(values, 90))
        tags = text(TAGS_SQL[bench.kind]).bindparams(bindparam("since", type_=UTCDateTime()),
                                                     bindparam("until", type_=UTCDateTime()))
        out["top_tags"] = [(tag, int(n)) for tag, n in conn.execute(tags, bound)][:3]
    return t.seconds, out


def percentile(values: list[float], p: int) -> float:
    position = (len(values) - 1) * p / 100
    low = int(position)
    return values[low] + (values[min(low + 1, len(values) - 1)] - values[low]) * (position - low)


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0], tickets=1_000_000)
    p.add_argument("--incidents", type=int, default=5_000, help="incidents over the year (default 5,000)")
    p.add_argument("--steps", type=int, default=50_000, help="escalation steps (default 50,000)")
    p.add_argument("--recipients", type=int, default=200_000, help="broadcast outbox rows (default 200,000)")
    p.add_argument("--runs", type=int, default=5, help="timed runs of each case (default 5)")
    p.add_argument("--build-only", action="store_true", help="build the data set and stop (with --keep)")
    args = p.parse_args(argv)
    from incident import clock

    with bench_app(args) as bench:
        print(f"machine: {machine()}; {load()}")
        print(f"database: {bench.describe()}")
        with Timer() as t:
            made = build(bench, args)
            tidy(bench)
        print(f"built in {t.seconds:.0f} s: {made}, {args.tickets:,} linked tickets", flush=True)
        if args.build_only:
            return 0
        clock.freeze(NOW)
        try:
            results = measure(bench, args)
        finally:
            clock.unfreeze()
        report(bench, args, results)
    return 0


def measure(bench, args) -> dict:
    """Each case once untimed (warm caches), then --runs timed runs, API and SQL alternating first."""
    results: dict = {name: [] for name, _, _ in CASES}
    results["SQL"], sizes = [], {}
    for name, path, params in CASES:
        sizes[name] = run_api(bench, path, params)[1]
    results["SQL answer"] = run_sql(bench)[1]
    for run in range(args.runs):
        gc.collect()
        order = [("SQL", None, None), *CASES]
        for name, path, params in (order if run % 2 == 0 else order[::-1]):
            seconds = run_sql(bench)[0] if path is None else run_api(bench, path, params)[0]
            results[name].append(seconds)
        print(f"  run {run + 1}: " + ", ".join(f"{name.split(',')[0] if name == 'SQL' else name}: {results[name][-1]:.3f} s"
                                          for name, _, _ in (("SQL", 0, 0), *CASES)), flush=True)
    results["sizes"] = sizes
    return results


def report(bench, args, results: dict) -> None:
    rows = [(name, f"{min(results[name]):.3f}", f"{median(results[name]):.3f}", f"{max(results[name]):.3f}",
             f"{results['sizes'][name] / 1024:,.0f} kB") for name, _, _ in CASES]
    rows.append(("hand-written SQL, the year: MTTA + MTTR median/p90, top 10 tags",
                 f"{min(results['SQL']):.3f}", f"{median(results['SQL']):.3f}", f"{max(results['SQL']):.3f}", ""))
    year = median(results[CASES[0][0]])
    rows.append(("ratio: whole-year summary / hand-written SQL", "", f"{year / median(results['SQL']):.2f}x", "", ""))
    print()
    print(table(f"Reports on {bench.kind}: {args.incidents:,} incidents over {DAYS} days, {args.tickets:,} linked "
                f"tickets, {args.steps:,} escalation steps, {args.runs} runs — {machine()}", rows,
                ("case", "best s", "median s", "worst s", "answer")))
    print(f"hand-written SQL answers: {results['SQL answer']}")
    print(load())
    default = median(results[CASES[1][0]])
    print(f"target (measured, not asserted): summary <= {TARGET_SECONDS} s: default period median {default:.3f} s -> "
          f"{'meets' if default <= TARGET_SECONDS else 'MISSES'}; the whole year (all {args.incidents:,} incidents) "
          f"median {year:.3f} s -> {'meets' if year <= TARGET_SECONDS else 'MISSES'}")


if __name__ == "__main__":
    sys.exit(main())
