"""Tag link in a big table, and ticket lists paged by cursor, each beside hand-written SQL.

    python bench/bench_keyset.py                 # SQLite, 1,000,000 tickets
    python bench/bench_keyset.py --postgres      # the same on a scratch PostgreSQL database
    python bench/bench_keyset.py --tickets 200000 --runs 3

Loads N tickets with set-based SQL (not the API: this bench is about reading them), every tenth
linked to one incident (100,000 of 1,000,000: the list that is paged) and one in a thousand tagged
`outage-x` (1,000; none linked). Then, --runs times each, medians printed:

  tag link: POST /api/v1/incidents/<other>/tickets {"filter": {"tags": ["outage-x"]}} (the whole
            request) vs the hand-written UPDATE the index serves, vs the UPDATE ... LIKE of before
            (reads every ticket); the links are undone before each run;
  paging:   GET /api/v1/incidents/<id>/tickets?per_page=50 — the first page, and the middle and last
            ones by cursor — vs the hand-written keyset SELECT + COUNT; the same pages by number
            (OFFSET, the old way) for contrast; and GET /api/v1/tickets over all N tickets.
The query plans (EXPLAIN) of the service's own statements are printed at the end.
Targets from issue 15: the tag link <= 200 ms; every page of the 100,000 list <= 50 ms.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_app, load, machine, median, parser, table, vacuum  # noqa: E402
from sqlalchemy import text  # noqa: E402

PER_PAGE = 50
TAG = "outage-x"
LINK_TARGET, PAGE_TARGET = 0.200, 0.050
CHUNK = 100_000

SQLITE_ROWS = ("WITH RECURSIVE n(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM n WHERE i < :hi) "
               "SELECT i, datetime('2026-11-01 00:00:00', '+' || (i / 3) || ' seconds') || '.000000' AS at FROM n")
PG_ROWS = ("SELECT i, timestamptz '2026-11-01 00:00:00+00' + (i / 3) * interval '1 second' AS at "
           "FROM generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) AS i")
INSERT = """
INSERT INTO tickets (source, external_id, subject, description, requester_name, requester_email, tags, services,
                     status, created_at, received_at, updated_at, content_hash, incident_id, linked_at, link_method)
SELECT 'zendesk', 'ZD-' || i, 'Cannot log in (' || i || ')',
       'The login page says 502 since this morning; the whole team is affected.',
       'Customer ' || i, 'customer' || i || '@example.com',
       CASE WHEN i % 1000 = 7 THEN ' eu login {tag} '
            WHEN i % 4 = 0 THEN ' eu login ' WHEN i % 4 = 1 THEN ' billing us '
            WHEN i % 4 = 2 THEN ' api login sso ' ELSE ' mobile ' END,
       ' auth ', 'open', at, at, at, 'x',
       CASE WHEN i % 10 = 0 THEN :incident END, CASE WHEN i % 10 = 0 THEN at END,
       CASE WHEN i % 10 = 0 THEN 'import' END
FROM ({rows}) AS numbered
"""
HAND_LINK = {
    "sqlite": "UPDATE tickets SET incident_id = :incident, link_method = 'filter' WHERE id IN "
              "(SELECT rowid FROM ticket_tags_fts WHERE ticket_tags_fts MATCH '\"{tag}\"') "
              "AND tags LIKE '% {tag} %' AND incident_id IS NULL",
    "postgresql": "UPDATE tickets SET incident_id = :incident, link_method = 'filter' "
                  "WHERE string_to_array(btrim(tags), ' ') @> ARRAY['{tag}'] AND incident_id IS NULL",
}
SCAN_LINK = ("UPDATE tickets SET incident_id = :incident, link_method = 'filter' "
             "WHERE tags LIKE '% {tag} %' AND incident_id IS NULL")
HAND_PAGE = ("SELECT * FROM tickets WHERE incident_id = :incident AND (created_at, id) < (:at, :id) "
             "ORDER BY created_at DESC, id DESC LIMIT 51")
HAND_FIRST = "SELECT * FROM tickets WHERE incident_id = :incident ORDER BY created_at DESC, id DESC LIMIT 51"
HAND_COUNT = "SELECT count(*) FROM tickets WHERE incident_id = :incident"


def load_rows(bench, total: int, incident_id: int) -> float:
    rows = PG_ROWS if bench.kind == "postgresql" else SQLITE_ROWS
    statement = text(INSERT.format(rows=rows, tag=TAG))
    started = time.perf_counter()
    with bench.engine().begin() as conn:
        for lo in range(1, total + 1, CHUNK):
            conn.execute(statement, {"lo": lo, "hi": min(lo + CHUNK - 1, total), "incident": incident_id})
            print(f"  {min(lo + CHUNK - 1, total):,} ...", end="", flush=True)
    print()
    vacuum(bench)
    return time.perf_counter() - started


def timed(fn, runs: int) -> tuple[float, float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return min(seconds), median(seconds)


def unlink_tag(bench) -> None:
    with bench.engine().begin() as conn:
        conn.execute(text("UPDATE tickets SET incident_id = NULL, linked_at = NULL, "
                          "link_method = NULL, link_action_id = NULL WHERE link_method = 'filter'"))


def key_at(bench, incident_id: int, position: int):
    """(created_at, id) of the ticket at this position of the incident's list, newest first (untimed)."""
    from sqlalchemy import select

    from incident.extensions import db
    from incident.tickets.models import Ticket
    with bench.app.app_context():
        row = db.session.execute(select(Ticket.created_at, Ticket.id).where(Ticket.incident_id == incident_id)
                                 .order_by(Ticket.created_at.desc(), Ticket.id.desc()).offset(position).limit(1)).one()
        db.session.remove()
    return row


def cursor_at(bench, incident_id: int, position: int) -> str:
    from incident.tickets.service import encode_cursor
    at, ticket_id = key_at(bench, incident_id, position)
    return encode_cursor(SimpleNamespace(created_at=at, id=ticket_id))


def explain(bench, statement) -> str:
    from incident.extensions import db
    with bench.app.app_context():
        sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
        if bench.kind == "postgresql":
            sql = sql.replace("%%", "%")  # the driver's escaping of literal percent signs
            plan = "\n".join(db.session.scalars(text(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}")))
        else:
            plan = "\n".join(f"{row[-1]}" for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        db.session.rollback()
        db.session.remove()
    return f"{' '.join(sql.split())}\n{plan}"


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0], tickets=1_000_000)
    p.add_argument("--runs", type=int, default=7, help="timed runs of each (default 7)")
    args = p.parse_args(argv)
    with bench_app(args) as bench:
        print(f"machine: {machine()}; {load()}")
        print(f"database: {bench.describe()}")
        listed = bench.declare("Login outage", "SEV1")
        other = bench.declare("Outage X", "SEV2")
        print(f"loading {args.tickets:,} tickets with set-based SQL ...", flush=True)
        spent = load_rows(bench, args.tickets, listed)
        with bench.engine().connect() as conn:
            linked = conn.execute(text(HAND_COUNT), {"incident": listed}).scalar_one()
            matches = conn.execute(text(f"SELECT count(*) FROM tickets WHERE tags LIKE '% {TAG} %'")).scalar_one()
        print(f"  loaded in {spent:.1f} s: {linked:,} linked to INC-{listed}, {matches:,} tagged {TAG}; {load()}")
        headers = bench.headers()
        get = bench.client.get

        # ---- tag link
        def api_link():
            response = bench.post(f"/api/v1/incidents/{other}/tickets", {"filter": {"tags": [TAG]}})
            assert response.status_code == 200 and response.get_json()["linked"] == matches, response.get_json()

        def sql_link(statement):
            def run():
                with bench.engine().begin() as conn:
                    count = conn.execute(text(statement.format(tag=TAG)), {"incident": other}).rowcount
                assert count == matches, count
            return run

        results = {}
        for name, fn in (("API link by tag", api_link), ("hand-written UPDATE (index)", sql_link(HAND_LINK[bench.kind])),
                         ("UPDATE ... LIKE (reads every ticket)", sql_link(SCAN_LINK))):
            spent_runs = []
            for _ in range(args.runs):
                unlink_tag(bench)
                started = time.perf_counter()
                fn()
                spent_runs.append(time.perf_counter() - started)
            results[name] = (min(spent_runs), median(spent_runs))
        unlink_tag(bench)
        rows = [(name, f"{matches:,}", f"{best * 1000:.1f}", f"{med * 1000:.1f}") for name, (best, med) in results.items()]
        print()
        print(table(f"Link the {matches:,} tickets tagged {TAG} among {args.tickets:,} on {bench.kind}, "
                    f"{args.runs} runs — {machine()}", rows, ("case", "linked", "best ms", "median ms")))

        # ---- paging
        middle, last = linked // 2, linked - PER_PAGE
        cursors = {"first": None, "middle": cursor_at(bench, listed, middle - 1),
                   "last": cursor_at(bench, listed, last - 1)}
        keys = {"middle": key_at(bench, listed, middle - 1), "last": key_at(bench, listed, last - 1)}
        page_rows = []
        for where in ("first", "middle", "last"):
            url = f"/api/v1/incidents/{listed}/tickets?per_page={PER_PAGE}"
            cursor = cursors[where]

            def api_page(url=url, cursor=cursor, where=where):
                response = get(url + (f"&cursor={cursor}" if cursor else ""), headers=headers)
                body = response.get_json()
                assert response.status_code == 200 and len(body["items"]) == PER_PAGE, body
                assert (body["next_cursor"] is None) == (where == "last")

            def sql_page(where=where):
                with bench.engine().connect() as conn:
                    if where == "first":
                        got = conn.execute(text(HAND_FIRST), {"incident": listed}).all()
                    else:
                        at, ticket_id = keys[where]
                        from sqlalchemy import bindparam

                        from incident.types import UTCDateTime
                        statement = text(HAND_PAGE).bindparams(bindparam("at", type_=UTCDateTime()))
                        got = conn.execute(statement, {"incident": listed, "at": at, "id": ticket_id}).all()
                    conn.execute(text(HAND_COUNT), {"incident": listed}).scalar_one()
                assert len(got) == (PER_PAGE if where == "last" else PER_PAGE + 1)

            number = {"first": 1, "middle": middle // PER_PAGE + 1, "last": linked // PER_PAGE}[where]

            def offset_page(number=number, url=url):
                response = get(f"{url}&page={number}", headers=headers)
                assert response.status_code == 200 and len(response.get_json()["items"]) == PER_PAGE

            api = timed(api_page, args.runs)
            hand = timed(sql_page, args.runs)
            offset = timed(offset_page, args.runs)
            page_rows.append((where, f"{api[1] * 1000:.1f}", f"{hand[1] * 1000:.1f}", f"{offset[1] * 1000:.1f}"))

        everything = []
        for where, position in (("first", None), ("middle", args.tickets // 2), ("last", args.tickets - PER_PAGE)):
            if position is None:
                cursor = None
            else:
                from sqlalchemy import select

                from incident.extensions import db
                from incident.tickets.models import Ticket
                from incident.tickets.service import encode_cursor
                with bench.app.app_context():
                    at, ticket_id = db.session.execute(select(Ticket.created_at, Ticket.id).order_by(
                        Ticket.created_at.desc(), Ticket.id.desc()).offset(position - 1).limit(1)).one()
                    db.session.remove()
                cursor = encode_cursor(SimpleNamespace(created_at=at, id=ticket_id))
            best, med = timed(lambda cursor=cursor: get(f"/api/v1/tickets?unlinked=false&per_page={PER_PAGE}" + (
                f"&cursor={cursor}" if cursor else ""), headers=headers), args.runs)
            everything.append((where, f"{med * 1000:.1f}"))
        print()
        print(table(f"A page of {PER_PAGE} of the {linked:,} tickets of one incident ({args.tickets:,} in the table), "
                    f"median of {args.runs}, ms — {bench.kind}", page_rows,
                    ("page", "API by cursor", "hand-written keyset + COUNT", "API by page number (OFFSET)")))
        print()
        print(table(f"GET /api/v1/tickets over all {args.tickets:,} (COUNT of them all in each answer), median ms",
                    everything, ("page", "API by cursor")))
        worst_page = max(float(r[1]) for r in page_rows) / 1000
        link_med = results["API link by tag"][1]
        print(f"targets (measured, not asserted): tag link <= {LINK_TARGET * 1000:.0f} ms: median "
              f"{link_med * 1000:.1f} ms -> {'meets' if link_med <= LINK_TARGET else 'MISSES'}; every page <= "
              f"{PAGE_TARGET * 1000:.0f} ms: worst median {worst_page * 1000:.1f} ms -> "
              f"{'meets' if worst_page <= PAGE_TARGET else 'MISSES'}")

        # ---- plans
        from sqlalchemy import Integer, literal, select, tuple_

        from incident.tickets import queries
        from incident.tickets.models import Ticket
        from incident.tickets.policy import TicketFilter
        from incident.types import UTCDateTime
        with bench.app.app_context():
            tag_select = select(Ticket.id).where(*queries.where(TicketFilter(tags=(TAG,), unlinked_only=True)))
            at, ticket_id = keys["middle"]
            page_select = select(Ticket.id).where(
                *queries.where(TicketFilter(incident_id=listed)),
                tuple_(Ticket.created_at, Ticket.id) < tuple_(literal(at, UTCDateTime()), literal(ticket_id, Integer()))
            ).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(PER_PAGE + 1)
        print("\nPlan of the tag filter (the link's WHERE):")
        print(explain(bench, tag_select))
        print("\nPlan of the middle page by cursor:")
        print(explain(bench, page_select))
        print(f"\n{load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
