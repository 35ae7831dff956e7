"""Escalation deadlines in real time: how late the next level is paged, and when its pages leave.

    python bench/bench_escalation.py                  # SQLite, 300 incidents, deadlines over 30 s
    python bench/bench_escalation.py --postgres       # the same on a scratch PostgreSQL database
    python bench/bench_escalation.py --spread 0       # burst: every deadline in the same instant

N SEV3 incidents are declared and escalated under the default policy (L1: one engineer on Slack
and SMS, 60 s to acknowledge; L2: a rotation on Slack, SMS and email). Each escalation is started
with the clock set so that its L1 deadline falls `--lead` s from now plus i x spread / N:
staggered deadlines, none acknowledged. Then the real worker runs as a subprocess
(`python -m flask --app wsgi worker`, SCHEDULER_TICK_SECONDS=--tick, default 1 = the default,
every channel the sandbox) against the same scratch database, in real time, until every L2
page is marked sent. Everything is read back from the database afterwards:

  lateness  first L2 outbox row's created_at - the L1 step's deadline (when the page was queued)
  latency   each L2 page's sent_at - the L1 step's deadline (when the dispatcher marked it sent)

The L1 pages of the escalations (queued in the past) go out on the worker's first ticks, before
the first deadline. Target from the issue: a page leaves within 2 s of its deadline (printed,
not asserted).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, bench_app, load, machine, median, percentile, table  # noqa: E402

TARGET_SECONDS = 2.0
L1_TIMEOUT = 60


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--postgres", action="store_true", help="run on a scratch PostgreSQL database")
    p.add_argument("--incidents", type=int, default=300, help="incidents escalating at once (default 300)")
    p.add_argument("--spread", type=float, default=30.0,
                   help="seconds over which the L1 deadlines fall due (default 30; 0 = all at once)")
    p.add_argument("--lead", type=float, default=20.0,
                   help="seconds from the end of the set-up to the first deadline (default 20: the worker "
                        "starts and sends the L1 pages first)")
    p.add_argument("--tick", type=float, default=1.0, help="SCHEDULER_TICK_SECONDS for the worker (default 1)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="give up waiting this many seconds after the last deadline (default 120)")
    p.add_argument("--keep", action="store_true", help="keep the scratch database (prints where it is)")
    return p.parse_args(argv)


def set_up(bench, n: int) -> list[int]:
    """Staff, rotations, the default policy, and n declared incidents (not escalated yet)."""
    from incident import flows
    from incident.auth.service import create_user
    from incident.escalation import service as escalation
    from incident.extensions import db

    with bench.app.app_context():
        admin = create_user("admin@example.com", role="admin", name="Admin")
        create_user("amy@example.com", role="engineer", name="Amy", phone="+393471111111", slack_id="UAMY")
        create_user("bob@example.com", role="engineer", name="Bob", phone="+393472222222", slack_id="UBOB")
        create_user("dan@example.com", role="engineer", name="Dan", phone="+393473333333", slack_id="UDAN")
        start = datetime(2026, 1, 5, tzinfo=timezone.utc)
        escalation.put_rotation(admin, "support-l2", users=["bob@example.com"], shift_hours=168, starts_at=start)
        escalation.put_rotation(admin, "backend-oncall", users=["dan@example.com"], shift_hours=24, starts_at=start)
        escalation.put_policy(admin, "default", {"levels": [
            {"name": "L1", "targets": [{"user": "amy@example.com"}], "ack_timeout_seconds": L1_TIMEOUT,
             "channels": ["slack", "sms"]},
            {"name": "L2", "targets": [{"rotation": "support-l2"}], "ack_timeout_seconds": 3600,
             "channels": ["slack", "sms", "email"]},
            {"name": "engineering", "targets": [{"rotation": "backend-oncall"}], "ack_timeout_seconds": 900,
             "channels": ["slack", "sms"]}], "repeat": 0})
        ids = [flows.declare_incident(admin, title=f"Outage {i}", severity="SEV3").id for i in range(n)]
        db.session.remove()
    return ids


def escalate_all(bench, ids: list[int], first_deadline: datetime, spread: float) -> list[datetime]:
    """Escalate each incident with the clock set so that its L1 deadline is staggered from first_deadline."""
    from incident import clock
    from incident.auth.models import User
    from incident.escalation import service as escalation
    from incident.extensions import db

    step = spread / len(ids) if ids else 0
    deadlines = []
    with bench.app.app_context():
        admin = db.session.scalar(db.select(User).where(User.email == "admin@example.com"))
        try:
            for index, incident_id in enumerate(ids):
                deadline = first_deadline + timedelta(seconds=index * step)
                clock.freeze(deadline - timedelta(seconds=L1_TIMEOUT))
                esc = escalation.escalate(admin, incident_id, reason="bench")
                assert esc.next_deadline_at == deadline, (esc.next_deadline_at, deadline)
                deadlines.append(deadline)
        finally:
            clock.unfreeze()
        db.session.remove()
    return deadlines


def start_worker(bench, tick: float, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": bench.url, "SECRET_KEY": "bench-secret-key",
           "SCHEDULER_TICK_SECONDS": str(tick), "PUBLIC_BASE_URL": "http://tocsin.bench", "LOG_LEVEL": "WARNING"}
    for key in ("SLACK_BOT_TOKEN", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SMTP_HOST"):
        env.pop(key, None)  # every channel is the sandbox
    log = open(log_path, "w")
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def scalar(bench, sql: str, **params):
    from sqlalchemy import text
    with bench.engine().connect() as conn:
        return conn.execute(text(sql), params).scalar()


L2_SENT = ("SELECT count(*) FROM deliveries d JOIN escalation_steps s ON s.id = d.step_id "
           "WHERE s.level_name = 'L2' AND d.purpose = 'page' AND d.status = 'sent'")


def results(bench) -> list[dict]:
    """Per incident: the L1 deadline, when the tick saw it, the L2 rows' created_at and sent_at."""
    from sqlalchemy import select

    from incident.escalation.models import EscalationStep
    from incident.extensions import db
    from incident.outbox.models import Delivery

    with bench.app.app_context():
        l1 = {s.incident_id: s for s in db.session.scalars(select(EscalationStep).where(EscalationStep.level_name == "L1"))}
        l2 = {s.id: s for s in db.session.scalars(select(EscalationStep).where(EscalationStep.level_name == "L2"))}
        pages: dict[int, list[Delivery]] = {}
        for d in db.session.scalars(select(Delivery).where(Delivery.step_id.in_(list(l2)), Delivery.purpose == "page")):
            pages.setdefault(d.step_id, []).append(d)
        out = []
        for step_id, step in l2.items():
            first = l1[step.incident_id]
            rows = pages.get(step_id, [])
            out.append({"incident": step.incident_id, "deadline": first.deadline, "breached": first.breached_at,
                        "created": min(d.created_at for d in rows) if rows else None,
                        "sent": [d.sent_at for d in rows if d.sent_at is not None], "pages": len(rows)})
        db.session.remove()
    return out


def stats_row(name: str, values: list[float]) -> tuple:
    if not values:
        return (name, "0", "", "", "", "", "")
    within = sum(v <= TARGET_SECONDS for v in values)
    return (name, f"{len(values):,}", f"{min(values):.3f}", f"{median(values):.3f}", f"{percentile(values, 95):.3f}",
            f"{max(values):.3f}", f"{within / len(values):.1%}")


def main(argv=None) -> int:
    args = parse_args(argv)
    with bench_app(args) as bench:
        print(f"machine: {machine()}; {load()}")
        print(f"database: {bench.describe()}")
        t = time.perf_counter()
        ids = set_up(bench, args.incidents)
        print(f"declared {len(ids)} incidents in {time.perf_counter() - t:.1f} s", flush=True)

        t = time.perf_counter()
        first_deadline = datetime.now(timezone.utc) + timedelta(seconds=args.lead)
        deadlines = escalate_all(bench, ids, first_deadline, args.spread)
        print(f"escalated them in {time.perf_counter() - t:.1f} s: L1 deadlines from "
              f"{deadlines[0]:%H:%M:%S.%f} to {deadlines[-1]:%H:%M:%S.%f} UTC "
              f"({args.spread:g} s, {len(ids) / max(args.spread, 1):.0f}/s)", flush=True)

        log_path = Path(tempfile.gettempdir()) / f"tocsin-bench-worker-{os.getpid()}.log"
        worker = start_worker(bench, args.tick, log_path)
        started = datetime.now(timezone.utc)
        expected_pages = len(ids) * 3  # L2: one person on slack, sms and email
        try:
            while scalar(bench, "SELECT count(*) FROM worker_heartbeats") == 0:
                if worker.poll() is not None:
                    raise SystemExit(f"the worker exited: see {log_path}")
                time.sleep(0.1)
            ready = datetime.now(timezone.utc)
            print(f"worker ticking after {(ready - started).total_seconds():.1f} s, "
                  f"{(deadlines[0] - ready).total_seconds():.1f} s before the first deadline "
                  f"(tick {args.tick:g} s)", flush=True)
            if ready > deadlines[0]:
                print("  WARNING: the worker started after the first deadline; raise --lead")
            give_up = deadlines[-1] + timedelta(seconds=args.timeout)
            reported = None
            while datetime.now(timezone.utc) < give_up:
                if worker.poll() is not None:
                    raise SystemExit(f"the worker exited: see {log_path}")
                time.sleep(1.0)
                sent = scalar(bench, L2_SENT)
                now = datetime.now(timezone.utc)
                if now > deadlines[0] and sent != reported:
                    queued = scalar(bench, "SELECT count(*) FROM deliveries WHERE status IN ('queued', 'sending')")
                    print(f"  {now:%H:%M:%S} L2 pages sent {sent:,} / {expected_pages:,}; outbox waiting {queued}",
                          flush=True)
                    reported = sent
                if sent >= expected_pages:
                    break
            ticks = scalar(bench, "SELECT sum(ticks) FROM worker_heartbeats")
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        log = log_path.read_text(errors="replace")
        skipped = log.count("maximum number of running instances reached")
        rows = results(bench)
        late = [(r["created"] - r["deadline"]).total_seconds() for r in rows if r["created"]]
        seen = [(r["breached"] - r["deadline"]).total_seconds() for r in rows if r["breached"]]
        latency = [(s - r["deadline"]).total_seconds() for r in rows for s in r["sent"]]
        last = [(max(r["sent"]) - r["deadline"]).total_seconds() for r in rows if len(r["sent"]) == r["pages"] > 0]
        missing = len(ids) - len(rows)
        print()
        print(table(f"Escalation deadlines in real time on {bench.kind}: {len(ids)} incidents, deadlines over "
                    f"{args.spread:g} s, tick {args.tick:g} s, {ticks} ticks — {machine()}",
                    [stats_row("tick saw the deadline (breached_at)", seen),
                     stats_row("lateness: L2 page row created", late),
                     stats_row("latency: each L2 page sent", latency),
                     stats_row("latency: incident's last page sent", last)],
                    ("seconds after the L1 deadline", "n", "min", "p50", "p95", "max", f"<= {TARGET_SECONDS:g} s")))
        print(f"ticks skipped because the previous one was still running: {skipped}")
        finished = not missing and len(latency) >= expected_pages
        if not finished:
            print(f"NOT FINISHED: {missing} incidents never reached L2; {expected_pages - len(latency)} L2 pages "
                  f"not sent (the worker's log is kept: {log_path})")
        print(load())
        worst = max(latency) if latency else float("inf")
        print(f"target (measured, not asserted): a page leaves within {TARGET_SECONDS:g} s of its deadline: "
              f"p95 {percentile(latency, 95) if latency else float('nan'):.3f} s, max {worst:.3f} s -> "
              f"{'meets' if worst <= TARGET_SECONDS and not missing else 'MISSES'}")
        if finished:
            log_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
