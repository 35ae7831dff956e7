"""Zendesk sync of a 100,000-ticket link, paced by the rate limit, against the raw provider's floor.

    python bench/bench_helpdesk.py                        # SQLite, 100,000 tickets, 700 requests/min
    python bench/bench_helpdesk.py --postgres             # the same on a scratch PostgreSQL database
    python bench/bench_helpdesk.py --tickets 10000 --per-minute 6000   # a quick run (seconds)

A loopback Zendesk stand-in (tests/zendesk_stand_in.py: 100 ids per call, N requests in any 60 s,
429 + Retry-After past that; a job completes on its --job-polls-th look) holds tickets 1..N tagged
"login". It runs in a child process, so the memory sampled here is Tocsin's, not the stand-in's
store of tickets, requests and job results. Steps:

  1. load the same N tickets into Tocsin through the batch API (source zendesk, external id "n");
  2. point the app at the stand-in (ZENDESK_URL/EMAIL/API_TOKEN/REQUESTS_PER_MINUTE, and the
     connector in app.extensions["tocsin_helpdesk"]);
  3. declare an incident and link all N by filter through the API (timed: the queueing cost:
     one parent row and N/100 update_many rows);
  4. run the worker's step, incident.helpdesk.sync.run(app), every --tick seconds on a fixed grid
     (a step that overruns skips grid points, as the worker's scheduler does) until no helpdesk
     row is queued, sending or sent; VmRSS sampled every second, a progress line every ~10 s;
  5. check the stand-in: every ticket an incident of the parent, with the incident's tag; calls
     by kind and the 429s it answered (counted per answer in the child);
  6. baseline: a plain requests.Session sends the same N/100 update_many calls to a fresh stand-in
     with the same limit, started 60/per_minute s apart (never more than per_minute in any 60 s),
     without following the jobs: the practical floor. The theoretical floor is jobs / per_minute.

Target from the issue: the whole sync within 10 % of the floor the rate limit sets (1,000 jobs at
700/min ~ 86 s), memory flat (printed, not asserted).
"""
from __future__ import annotations

import json
import multiprocessing
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Timer, bench_app, load, machine, make_tickets, parser, rss_kb, table  # noqa: E402

TARGET_OVER_FLOOR = 0.10
PROGRESS_EVERY = 10.0


# ---------------------------------------------------------------- the stand-in, in a child process

def _kind(path: str) -> str:
    for part, name in (("update_many", "update_many"), ("job_statuses", "job_statuses"),
                       ("show_many", "show_many"), ("/tickets.json", "create_ticket")):
        if part in path:
            return name
    return "other"


def _serve(conn, per_minute: int, job_polls: int, tickets: int, backlog: int) -> None:
    """The child: a started ZendeskStandIn with tickets 1..N, answering the parent's questions on `conn`."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests import zendesk_stand_in

    if backlog:   # the listen backlog of the stand-in's server (its own is 128)
        zendesk_stand_in._Server.request_queue_size = backlog   # in this child process only
    stand_in = zendesk_stand_in.ZendeskStandIn(requests_per_minute=per_minute, job_polls=job_polls)
    answers: Counter = Counter()            # (kind, status) -> answers; the stand-in records requests only
    first_last: dict[str, list[float]] = {}  # kind -> [first, last] time.monotonic() of a 2xx answer
    answers_lock = threading.Lock()
    original = stand_in.answer

    def answer(request):
        reply = original(request)
        now, kind = time.monotonic(), _kind(request.path)
        with answers_lock:
            answers[(kind, reply.status)] += 1
            if reply.status < 300:
                first_last.setdefault(kind, [now, now])[1] = now
        return reply

    stand_in.answer = answer
    for n in range(1, tickets + 1):
        stand_in.add_ticket(id=n, tags=["login"])
    stand_in.start()
    conn.send(stand_in.url)

    def counts() -> dict:
        with answers_lock:
            items = list(answers.items())
        return {"answers": {f"{k} {s}": c for (k, s), c in sorted(items)},
                "requests": sum(c for _, c in items),
                "429": sum(c for (_, s), c in items if s == 429),
                "update_many_ok": sum(c for (k, s), c in items if k == "update_many" and s == 200),
                "first_last": dict(first_last),
                "rss_mb": rss_kb() / 1024}

    while True:
        command, arg = conn.recv()
        if command == "progress":
            with stand_in.lock:
                synced = sum(1 for n, t in stand_in.tickets.items() if n <= tickets and t["problem_id"] is not None)
            conn.send({"synced": synced, **counts()})
        elif command == "check":
            parent, tag = arg
            bad, wrong = 0, []
            with stand_in.lock:
                for n in range(1, tickets + 1):
                    ticket = stand_in.tickets.get(n)
                    if not (ticket and ticket["type"] == "incident" and ticket["problem_id"] == parent
                            and tag in ticket["tags"]):
                        bad += 1
                        if len(wrong) < 5:
                            wrong.append({k: ticket.get(k) for k in ("id", "type", "problem_id", "tags")}
                                         if ticket else {"id": n, "missing": True})
                parent_ticket = stand_in.tickets.get(parent) if parent is not None else None
                parent_type = parent_ticket["type"] if parent_ticket else None
            calls = {kind: len(stand_in.calls(path, method)) for kind, path, method in (
                ("update_many", "/tickets/update_many.json", "PUT"),
                ("job_statuses", "/job_statuses/", "GET"),
                ("show_many", "/tickets/show_many.json", "GET"),
                ("create_ticket", "/tickets.json", "POST"))}
            conn.send({"bad": bad, "wrong": wrong, "parent_type": parent_type, "calls": calls,
                       "total_calls": len(stand_in.requests), **counts()})
        elif command == "stop":
            stand_in.stop()
            conn.send(None)
            return


class StandInProcess:
    """A ZendeskStandIn in a spawned child process (spawn: nothing of this process's database
    connections is inherited); `url`, and `ask(command)` for progress and the final check."""

    def __init__(self, per_minute: int, job_polls: int, tickets: int, backlog: int):
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, per_minute, job_polls, tickets, backlog),
                                       daemon=True)
        self.process.start()
        child.close()
        self.url = self.conn.recv()

    def ask(self, command: str, arg=None):
        self.conn.send((command, arg))
        return self.conn.recv()

    def stop(self) -> None:
        try:
            self.ask("stop")
        except (OSError, EOFError):
            pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


# ---------------------------------------------------------------- Tocsin's side

def load_zendesk_tickets(bench, total: int, *, batch: int, seed: int) -> float:
    """N tickets of source zendesk with numeric external ids 1..N, all tagged login; seconds in requests."""
    spent = 0.0
    for first in range(1, total + 1, batch):
        tickets = make_tickets(first, min(batch, total + 1 - first), seed=seed, source="zendesk")
        for offset, ticket in enumerate(tickets):
            ticket["external_id"] = str(first + offset)
            ticket["tags"] = ["login"]
        body = json.dumps({"tickets": tickets}).encode()
        with Timer() as t:
            response = bench.post("/api/v1/tickets", body)
        spent += t.seconds
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return spent


class TimedSession(requests.Session):
    """The connector's session: how long each call took (connection included) and what raised."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.durations: list[float] = []
        self.errors: Counter = Counter()

    def request(self, method, url, *args, **kwargs):
        start = time.monotonic()
        try:
            return super().request(method, url, *args, **kwargs)
        except Exception as error:
            with self.lock:
                self.errors[type(error).__name__] += 1
            raise
        finally:
            with self.lock:
                self.durations.append(time.monotonic() - start)


class RssEverySecond:
    """VmRSS sampled every second in a background thread: (monotonic time, kB) pairs."""

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), rss_kb()))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.samples.append((time.monotonic(), rss_kb()))
        return False


def open_rows(app) -> int:
    """Helpdesk outbox rows not finished: queued, sending or sent (a job Zendesk is still running)."""
    from sqlalchemy import func, select

    from incident.extensions import db
    from incident.outbox.models import Delivery
    from incident.vocabulary import DeliveryStatus

    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.purpose == "helpdesk",
            Delivery.status.in_((DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.SENT))))
        db.session.rollback()
        return count


def helpdesk_rows(app, incident_id: int) -> dict:
    """What Tocsin wrote down: rows by (recipient, status), the parent ticket, sync states, attempts."""
    from sqlalchemy import func, select

    from incident.extensions import db
    from incident.helpdesk import sync
    from incident.outbox.models import Delivery

    with app.app_context():
        rows = db.session.execute(select(Delivery.recipient, Delivery.status, func.count(), func.max(Delivery.attempts))
                                  .where(Delivery.purpose == "helpdesk").group_by(Delivery.recipient, Delivery.status)
                                  ).all()
        view = sync.sync_view(incident_id)
        db.session.rollback()
    return {"rows": {f"{r} {s}": c for r, s, c, _ in rows}, "max_attempts": max((a or 0 for *_, a in rows), default=0),
            "view": view}


def run_worker(bench, stand_in: StandInProcess, args) -> dict:
    """sync.run(app) on a fixed --tick grid until no helpdesk row is open; time, ticks, RSS, progress."""
    from incident.helpdesk import sync

    app = bench.app
    ticks = skipped = errors = 0
    first_error = None
    step_seconds: list[float] = []
    timeout = args.timeout or (3 * args.tickets / 100 / args.per_minute * 60 + 120)
    finished = False
    with RssEverySecond() as rss:
        start = next_tick = next_progress = time.monotonic()
        next_progress += PROGRESS_EVERY
        while True:
            t = time.monotonic()
            try:
                sync.run(app)
            except Exception as error:   # the worker logs it and runs the step again next tick
                errors += 1
                first_error = first_error or repr(error)
            step_seconds.append(time.monotonic() - t)
            ticks += 1
            if open_rows(app) == 0:
                finished = True
                break
            now = time.monotonic()
            if now - start > timeout:
                break
            if now >= next_progress:
                p = stand_in.ask("progress")
                print(f"  {now - start:6.1f} s: {p['synced']:,} of {args.tickets:,} tickets synced in Zendesk, "
                      f"{p['update_many_ok']:,} jobs submitted, {p['requests']:,} calls, {p['429']} x 429, "
                      f"RSS {rss_kb() / 1024:.1f} MB", flush=True)
                next_progress += PROGRESS_EVERY
            next_tick += args.tick
            if next_tick <= now:   # the step overran: the scheduler skips the grid points it missed
                missed = int((now - next_tick) // args.tick) + 1
                skipped += missed
                next_tick += missed * args.tick
            time.sleep(max(0.0, next_tick - time.monotonic()))
        seconds = time.monotonic() - start
    samples = [kb for _, kb in rss.samples]
    return {"seconds": seconds, "start": start, "finished": finished, "ticks": ticks, "skipped": skipped, "errors": errors,
            "first_error": first_error, "rss_start": samples[0] / 1024, "rss_end": samples[-1] / 1024,
            "rss_peak": max(samples) / 1024, "rss_samples": len(samples),
            "step_max": max(step_seconds), "step_median": sorted(step_seconds)[len(step_seconds) // 2]}


# ---------------------------------------------------------------- the raw-provider baseline

def run_baseline(args, jobs: int) -> dict:
    """The same update_many calls from a plain requests.Session, one every 60/per_minute s, jobs not followed."""
    import requests

    from tests.zendesk_stand_in import ZD_EMAIL, ZD_TOKEN

    stand_in = StandInProcess(args.per_minute, args.job_polls, args.tickets, args.backlog)
    try:
        session = requests.Session()
        session.auth = (f"{ZD_EMAIL}/token", ZD_TOKEN)
        url = stand_in.url + "/api/v2/tickets/update_many.json"
        body = {"ticket": {"additional_tags": ["baseline"]}}
        interval = 60.0 / args.per_minute
        limited = 0
        answered: list[float] = []    # when each call's answer came back
        start = time.monotonic()
        for index, first in enumerate(range(1, args.tickets + 1, 100)):
            ids = ",".join(str(n) for n in range(first, min(first + 100, args.tickets + 1)))
            # one every 60/per_minute s, and never before the call per_minute back is 60 s old (it was
            # counted when it arrived, at most when its answer came back): no 429 from timing jitter
            due = start + index * interval
            if index >= args.per_minute:
                due = max(due, answered[index - args.per_minute] + 60.0)
            time.sleep(max(0.0, due - time.monotonic()))
            while True:
                response = session.put(url, params={"ids": ids}, json=body, timeout=(5, 30))
                if response.status_code != 429:
                    break
                limited += 1
                time.sleep(float(response.headers.get("Retry-After") or 1))
            answered.append(time.monotonic())
            response.raise_for_status()
        seconds = time.monotonic() - start
        session.close()
        check = stand_in.ask("check", (None, "__none__"))
    finally:
        stand_in.stop()
    return {"seconds": seconds, "calls": check["total_calls"], "update_many": check["calls"]["update_many"],
            "429": check["429"], "client_429": limited, "jobs": jobs}


# ---------------------------------------------------------------- main

def code_version() -> str:
    """The commit measured, and whether the sync's code differs from it (read-only git calls)."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "incident", "tests/zendesk_stand_in.py"],
                               cwd=ROOT, capture_output=True, timeout=10).returncode
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes in incident/ or the stand-in' if dirty else ''}" if head else "unknown"


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0], tickets=100_000)
    p.add_argument("--per-minute", type=int, default=700,
                   help="the stand-in's limit and ZENDESK_REQUESTS_PER_MINUTE (default 700)")
    p.add_argument("--tick", type=float, default=1.0,
                   help="seconds between worker steps, as SCHEDULER_TICK_SECONDS (default 1.0)")
    p.add_argument("--job-polls", type=int, default=2, help="looks at a job before the stand-in completes it (default 2)")
    p.add_argument("--timeout", type=float, default=0.0,
                   help="give up on the sync after this many seconds (default 3 x the floor + 120 s)")
    p.add_argument("--backlog", type=int, default=128,
                   help="the stand-in server's listen backlog (default 128, the stand-in's own; 0: leave it)")
    p.add_argument("--no-baseline", action="store_true", help="skip the raw requests.Session baseline")
    args = p.parse_args(argv)

    from incident.helpdesk.zendesk import ZendeskHelpdesk
    from incident.outbox import budget as pacing  # the shared request budget
    from tests.zendesk_stand_in import ZD_EMAIL, ZD_TOKEN

    jobs = -(-args.tickets // 100)
    floor = jobs / args.per_minute * 60
    print(f"machine: {machine()}; {load()}")
    print(f"code: {code_version()}")
    load_before = load()
    print(f"starting the Zendesk stand-in with {args.tickets:,} tickets, {args.per_minute}/min, "
          f"jobs complete on poll {args.job_polls} ...", flush=True)
    with Timer() as t:
        stand_in = StandInProcess(args.per_minute, args.job_polls, args.tickets, args.backlog)
    print(f"  {stand_in.url} ready in {t.seconds:.1f} s (listen backlog {args.backlog or 128}; it answers HTTP/1.0, "
          f"a connection per call)", flush=True)
    try:
        with bench_app(args) as bench:
            print(f"database: {bench.describe()}")
            print(f"loading {args.tickets:,} tickets through the batch API ...", flush=True)
            spent = load_zendesk_tickets(bench, args.tickets, batch=args.batch, seed=args.seed)
            print(f"  loaded in {spent:.1f} s ({args.tickets / spent:,.0f} tickets/s)", flush=True)

            app = bench.app
            app.config.update(ZENDESK_URL=stand_in.url, ZENDESK_EMAIL=ZD_EMAIL, ZENDESK_API_TOKEN=ZD_TOKEN,
                              ZENDESK_REQUESTS_PER_MINUTE=args.per_minute)
            session = TimedSession()
            app.extensions["tocsin_helpdesk"] = ZendeskHelpdesk(stand_in.url, ZD_EMAIL, ZD_TOKEN, session=session)

            incident_id = bench.declare("Login outage", "SEV1")
            rss_link_before = rss_kb() / 1024
            with Timer() as link_timer:
                response = bench.post(f"/api/v1/incidents/{incident_id}/tickets", {"filter": {"tags": ["login"]}})
            body = response.get_json()
            assert response.status_code == 200 and body["linked"] == args.tickets, (response.status_code, body)
            queued = helpdesk_rows(app, incident_id)["rows"]
            print(f"  linked {body['linked']:,} tickets by filter in {link_timer.seconds:.2f} s (queueing included: "
                  f"{', '.join(f'{c:,} {k}' for k, c in sorted(queued.items()))}); "
                  f"RSS {rss_link_before:.1f} -> {rss_kb() / 1024:.1f} MB", flush=True)

            print(f"running sync.run(app) every {args.tick} s until every helpdesk row is done "
                  f"(theoretical floor {floor:.1f} s) ...", flush=True)
            worker = run_worker(bench, stand_in, args)
            tocsin = helpdesk_rows(app, incident_id)
            parent = tocsin["view"]["problem_ticket_id"]
            check = stand_in.ask("check", (int(parent) if parent else None, f"tocsin_inc_{incident_id}"))
            database = bench.kind
    finally:
        stand_in.stop()

    state = "finished" if worker["finished"] else f"DID NOT FINISH (gave up after {worker['seconds']:.0f} s)"
    print(f"  sync {state} in {worker['seconds']:.1f} s: {worker['ticks']} steps ({worker['skipped']} grid points "
          f"skipped, step median {worker['step_median'] * 1000:.0f} ms, max {worker['step_max'] * 1000:.0f} ms), "
          f"{worker['errors']} step errors{' (first: ' + worker['first_error'] + ')' if worker['first_error'] else ''}")
    view = tocsin["view"]
    print("\nCorrectness:")
    print(f"  stand-in: {args.tickets - check['bad']:,} of {args.tickets:,} tickets are type incident, problem_id "
          f"{parent}, tagged tocsin_inc_{incident_id}; {check['bad']:,} are not"
          + (f" (first: {check['wrong']})" if check["wrong"] else "") + f"; parent ticket type {check['parent_type']}")
    calls = check["calls"]
    print(f"  calls: update_many {calls['update_many']:,} (expected {jobs:,}), job_statuses {calls['job_statuses']:,}, "
          f"create ticket {calls['create_ticket']}, show_many {calls['show_many']}, total {check['total_calls']:,}; "
          f"429 answered: {check['429']}")
    print(f"  answers by kind and status: {check['answers']}")
    print(f"  Tocsin: outbox rows {tocsin['rows']} (most attempts {tocsin['max_attempts']}); sync view: "
          f"synced {view['synced']:,}, pending {view['pending']:,}, failed {view['failed_count']:,}, "
          f"jobs running {view['jobs_running']}")
    durations = sorted(session.durations)
    slow = sum(1 for d in durations if d > 0.5)
    print(f"  Tocsin's HTTP calls: {len(durations):,}, median {durations[len(durations) // 2] * 1000:.1f} ms, "
          f"max {durations[-1] * 1000:.0f} ms, {slow} over 0.5 s; raised: {dict(session.errors) or 'nothing'}")
    marks = check["first_last"]
    start = worker["start"]
    if "update_many" in marks:
        first, last = marks["update_many"]
        done_jobs = marks.get("job_statuses", [last, last])[1]
        print(f"  where the time goes: first update_many accepted at {first - start:.1f} s, last at {last - start:.1f} s "
              f"({(calls['update_many'] - 1) / max(last - first, 1e-9) * 60:.0f}/min between them); last job_statuses "
              f"at {done_jobs - start:.1f} s; every row done seen at {worker['seconds']:.1f} s")
    # Tocsin's own floor: the bucket starts with a burst and refills a little under the limit.
    burst, refill = pacing.burst(args.per_minute), pacing.refill_per_second(args.per_minute)
    budget_floor = max(0.0, (check["requests"] - check["429"] - burst) / refill)
    print(f"  Tocsin's budget: burst {burst:.1f}, then {refill:.2f}/s ({refill * 60:.1f}/min): its "
          f"{check['requests'] - check['429']:,} accepted calls need >= {budget_floor:.1f} s")

    baseline = None
    if not args.no_baseline:
        print(f"\nbaseline: {jobs:,} update_many calls from a requests.Session, one every "
              f"{60 / args.per_minute * 1000:.1f} ms, to a fresh stand-in ...", flush=True)
        baseline = run_baseline(args, jobs)
        print(f"  {baseline['seconds']:.1f} s, {baseline['calls']:,} calls, {baseline['429']} x 429", flush=True)

    seconds = worker["seconds"]
    rows = [("Tocsin sync (sync.run every tick)", f"{seconds:.1f}", f"{(seconds / floor - 1) * 100:+.1f}%",
             f"{seconds / baseline['seconds']:.3f}x" if baseline else "-", f"{check['total_calls']:,}",
             f"{check['429']}", f"{worker['rss_peak'] - worker['rss_start']:+.1f}",
             f"{worker['rss_start']:.1f} / {worker['rss_end']:.1f}")]
    if baseline:
        rows.append(("baseline requests.Session, paced", f"{baseline['seconds']:.1f}",
                     f"{(baseline['seconds'] / floor - 1) * 100:+.1f}%", "1.000x", f"{baseline['calls']:,}",
                     f"{baseline['429']}", "", ""))
    rows.append((f"theoretical floor ({jobs:,} jobs / {args.per_minute}/min)", f"{floor:.1f}", "+0.0%", "", "", "",
                 "", ""))
    print()
    print(table(f"Zendesk sync of {args.tickets:,} linked tickets on {database}, {args.per_minute} requests/min, "
                f"tick {args.tick} s, jobs complete on poll {args.job_polls} — {machine()}", rows,
                ("run", "seconds", "vs floor", "vs baseline", "calls", "429s", "peak RSS +MB",
                 "RSS MB start / end")))
    print(f"link request (queueing {jobs:,} jobs): {link_timer.seconds:.2f} s; {load_before} -> {load()}")
    over = seconds / floor - 1
    print(f"target (measured, not asserted): within {TARGET_OVER_FLOOR:.0%} of the floor: {over:+.1%} -> "
          f"{'meets' if worker['finished'] and over <= TARGET_OVER_FLOOR and check['bad'] == 0 else 'MISSES'}; "
          f"memory: peak +{worker['rss_peak'] - worker['rss_start']:.1f} MB over the loop "
          f"({worker['rss_samples']} samples, 1/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
