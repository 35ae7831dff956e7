"""Keyset paging of ticket lists (cursor, next_cursor, prev_cursor) and the tag filter's index."""
from __future__ import annotations

import base64
import json
import re
from html import unescape

import pytest
from sqlalchemy import select, text

from incident.dbutil import dialect
from incident.extensions import db
from incident.tickets import queries
from incident.tickets.models import Ticket
from incident.tickets.policy import TicketFilter

from ..factories import ticket
from ..helpers import declare, ingest, logged_in


def _shared_times(count: int, start: int = 1, minute: int = 9) -> list[dict]:
    """Tickets sharing a few created_at values, so ties are broken by id."""
    return [ticket(n, created_at=f"2026-11-22T{minute:02d}:{n % 5:02d}:00+00:00") for n in range(start, start + count)]


def _walk(api, url: str, per_page: int) -> list[dict]:
    """Every page by next_cursor; each page's answer."""
    pages = [api.get(f"{url}per_page={per_page}").get_json()]
    while pages[-1]["next_cursor"]:
        pages.append(api.get(f"{url}per_page={per_page}&cursor={pages[-1]['next_cursor']}").get_json())
        assert len(pages) < 100
    return pages


@pytest.mark.parametrize("per_page", [1, 4, 5, 23, 50])
def test_cursor_pages_give_every_ticket_once_newest_first(api, per_page):
    ingest(api, {"tickets": _shared_times(23)})
    pages = _walk(api, "/api/v1/tickets?", per_page)
    seen = [(t["created_at"], t["id"]) for p in pages for t in p["items"]]
    assert len(seen) == 23 == len(set(seen)) and seen == sorted(seen, reverse=True)
    assert all(p["total"] == 23 for p in pages) and pages[-1]["next_cursor"] is None
    assert len(pages) == -(-23 // per_page)
    assert pages[0]["prev_cursor"] is None and all(p["prev_cursor"] for p in pages[1:])
    # and back again: each prev_cursor gives the page before, as it was
    for before, after in zip(pages, pages[1:], strict=False):
        back = api.get(f"/api/v1/tickets?per_page={per_page}&cursor={after['prev_cursor']}").get_json()
        assert [t["id"] for t in back["items"]] == [t["id"] for t in before["items"]]
        assert back["next_cursor"] and (back["prev_cursor"] is None) == (before is pages[0])


def test_page_numbers_still_work_and_carry_a_cursor_to_go_on(api):
    ingest(api, {"tickets": _shared_times(12)})
    by_number = [api.get(f"/api/v1/tickets?per_page=5&page={n}").get_json() for n in (1, 2, 3)]
    assert [len(p["items"]) for p in by_number] == [5, 5, 2] and by_number[2]["next_cursor"] is None
    following = api.get(f"/api/v1/tickets?per_page=5&cursor={by_number[0]['next_cursor']}").get_json()
    assert following["items"] == by_number[1]["items"]


def test_cursor_paging_is_stable_while_tickets_arrive(api):
    ingest(api, {"tickets": _shared_times(30)})
    first = api.get("/api/v1/tickets?per_page=7").get_json()
    # newer tickets arrive, and some with the same times as those still to come
    ingest(api, {"tickets": [ticket(n, created_at="2026-11-22T10:00:00+00:00") for n in range(100, 110)]})
    ingest(api, {"tickets": _shared_times(5, start=200)})
    pages, cursor = [first], first["next_cursor"]
    while cursor:
        pages.append(api.get(f"/api/v1/tickets?per_page=7&cursor={cursor}").get_json())
        cursor = pages[-1]["next_cursor"]
    ids = [t["external_id"] for p in pages for t in p["items"]]
    assert len(ids) == len(set(ids))                                   # nothing twice
    assert {f"ZD-{n}" for n in range(1, 31)} <= set(ids)               # nothing of the first list skipped
    assert not {f"ZD-{n}" for n in range(100, 110)} & set(ids)         # the newer ones are before the cursor
    assert pages[-1]["total"] == 45


def test_the_incidents_tickets_page_by_cursor(api):
    ingest(api, {"tickets": _shared_times(11) + [ticket(50, tags=["billing"])]})
    incident = declare(api)
    api.post(f"/api/v1/incidents/{incident['id']}/tickets", json={"filter": {"tags": ["login"]}})
    pages = _walk(api, f"/api/v1/incidents/{incident['id']}/tickets?", 4)
    ids = [t["external_id"] for p in pages for t in p["items"]]
    assert sorted(ids) == sorted(f"ZD-{n}" for n in range(1, 12)) and len(pages) == 3
    assert all(p["total"] == 11 for p in pages)


def _cursor(data) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor, reason", [
    ("nonsense!", "not a cursor this API gave"),
    ("", "not a cursor this API gave"),
    (_cursor([1, 2]), "not a cursor this API gave"),
    (_cursor({"v": 2, "d": "n", "at": "2026-11-22T09:00:00+00:00", "id": 1}), "not a cursor this API gave"),
    (_cursor({"v": 1, "d": "n", "at": "2026-11-22T09:00:00+00:00", "id": "1"}), "its position is malformed"),
    (_cursor({"v": 1, "d": "n", "at": "2026-11-22T09:00:00+00:00", "id": 2**70}), "its position is malformed"),
    (_cursor({"v": 1, "d": "n", "at": "yesterday", "id": 1}), "its time is malformed"),
    (_cursor({"v": 1, "d": "n", "at": "2026-11-22T09:00:00", "id": 1}), "its time is malformed"),
    ("a" * 201, "too long"),
])
def test_a_bad_cursor_is_422_with_the_reason(api, cursor, reason):
    ingest(api, {"tickets": _shared_times(3)})
    incident = declare(api)
    for url in ("/api/v1/tickets", f"/api/v1/incidents/{incident['id']}/tickets"):
        response = api.get(url, query_string={"cursor": cursor})
        assert response.status_code == 422
        error = response.get_json()["error"]
        assert error["code"] == "invalid_cursor" and error["details"] == {"cursor": reason}


def test_the_tickets_page_pages_by_cursor(client, make_user, api):
    logged_in(client, make_user)
    ingest(api, {"tickets": [ticket(n, created_at=f"2026-11-22T09:{n:02d}:00+00:00") for n in range(1, 56)]})
    first = client.get("/tickets?linked=all").get_data(as_text=True)
    assert "ZD-55" in first and "ZD-5<" not in first and 'rel="prev"' not in first
    older = unescape(re.search(r'href="([^"]+)" rel="next"', first).group(1))
    assert "cursor=" in older and "page=" not in older
    second = client.get(older).get_data(as_text=True)
    assert "ZD-5<" in second and "ZD-55" not in second and 'rel="next"' not in second
    newer = unescape(re.search(r'href="([^"]+)" rel="prev"', second).group(1))
    assert "ZD-55" in client.get(newer).get_data(as_text=True)
    bad = client.get("/tickets?cursor=nonsense", follow_redirects=True)
    assert bad.status_code == 200 and "ZD-55" in bad.get_data(as_text=True)


def test_the_incident_page_pages_its_tickets_by_cursor(client, make_user, api):
    logged_in(client, make_user)
    ingest(api, {"tickets": [ticket(n, created_at=f"2026-11-22T09:{n:02d}:00+00:00") for n in range(1, 26)]})
    incident = declare(api)
    api.post(f"/api/v1/incidents/{incident['id']}/tickets", json={"filter": {"tags": ["login"]}})
    first = client.get(f"/incidents/{incident['id']}").get_data(as_text=True)
    older = unescape(re.search(r'href="([^"]+)" rel="next"', first).group(1))
    assert "tc=" in older
    second = client.get(older).get_data(as_text=True)
    assert "ZD-5<" in second and "ZD-25<" not in second


TAGS = ["sso", "sso-eu", "sso.eu", "eu", "a:b", "a/b+c", "x_y", "login"]


def test_tag_filter_finds_whole_tags_only_and_follows_changed_tags(app, api):
    """The index only narrows; whole tags decide, as policy.matches does, also when tags change."""
    ingest(api, {"tickets": [ticket(n, tags=[TAGS[n % len(TAGS)], TAGS[(n * 3) % len(TAGS)]]) for n in range(80)]})
    changed = [ticket(n, tags=["moved"]) for n in range(0, 80, 2)]
    ingest(api, {"tickets": changed})
    with app.app_context():
        rows = db.session.scalars(select(Ticket)).all()
        for tags in [(t,) for t in TAGS] + [("sso", "eu"), ("moved",), ("moved", "sso"), ("nothing",)]:
            in_sql = set(db.session.scalars(select(Ticket.id).where(*queries.where(TicketFilter(tags=tags)))))
            in_python = {t.id for t in rows if set(tags) <= set(t.tags.split())}
            assert in_sql == in_python, tags
        assert len(db.session.scalars(select(Ticket.id).where(*queries.where(TicketFilter(tags=("moved",))))).all()) == 40
    listed = api.get("/api/v1/tickets?tag=sso-eu&per_page=500").get_json()
    assert listed["total"] == len(listed["items"]) > 0
    assert all("sso-eu" in t["tags"] for t in listed["items"])


def test_tag_filter_is_answered_by_an_index(app, api):
    ingest(api, {"tickets": [ticket(n, tags=["login"] if n % 2 else ["billing"]) for n in range(40)]})
    with app.app_context():
        query = select(Ticket.id).where(*queries.where(TicketFilter(tags=("billing",))))
        sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
        if dialect() == "postgresql":
            db.session.execute(text("SET LOCAL enable_seqscan = off"))  # 40 rows: a scan would win
            plan = "\n".join(db.session.scalars(text(f"EXPLAIN {sql}")))
            assert "ix_tickets_tags_gin" in plan
        else:
            plan = "\n".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            assert "ticket_tags_fts VIRTUAL TABLE" in plan and "SCAN tickets" not in plan
        db.session.rollback()
        assert len(db.session.scalars(query).all()) == 20
