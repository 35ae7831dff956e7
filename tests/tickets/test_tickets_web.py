"""The flood in the staff UI: tickets view, link all that match, the incident's tickets, floods."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from incident import clock, worker
from incident.extensions import db
from incident.tickets.models import FloodSignal, IncidentTicketStats

from ..factories import ticket, tickets
from ..helpers import declare, ingest, logged_in, seed_flood
from ..web_helpers import post_form

XSS = "<img src=x onerror=alert(1)>"


def test_tickets_view_lists_unlinked_newest_first_and_escapes(client, make_user, api):
    logged_in(client, make_user)
    ingest(api, {"tickets": [ticket(1, created_at="2026-11-22T09:00:00+00:00"),
                             ticket(2, created_at="2026-11-22T09:30:00+00:00", subject=XSS)]})
    page = client.get("/tickets").get_data(as_text=True)
    assert page.index("ZD-2") < page.index("ZD-1")
    assert XSS not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    filtered = client.get("/tickets?q=onerror").get_data(as_text=True)
    assert "ZD-2" in filtered and "ZD-1" not in filtered


def test_link_all_that_match_from_the_tickets_view(client, make_user, api):
    logged_in(client, make_user)
    ingest(api, {"tickets": tickets(40) + tickets(5, start=100, tags=["billing"])})
    incident_id = declare(api)["id"]
    response = post_form(client, "/tickets/link", {"incident_id": incident_id, "mode": "all", "tag": "login"},
                         page="/tickets?tag=login")
    assert response.status_code == 302
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["linked_tickets"] == 40
    room = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert 'id="linked-count">40<' in room and "<svg" in room and "rect class=\"bar\"" in room
    assert "login" in room[room.index('id="top-tags"'):]


def test_link_all_refuses_without_a_filter(client, make_user, api):
    logged_in(client, make_user)
    ingest(api, {"tickets": tickets(3)})
    incident_id = declare(api)["id"]
    post_form(client, "/tickets/link", {"incident_id": incident_id, "mode": "all"}, page="/tickets")
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["linked_tickets"] == 0
    assert "Set a filter first" in client.get("/tickets").get_data(as_text=True)


def test_link_selected_and_unlink_from_the_page(app, client, make_user, api):
    logged_in(client, make_user)
    ingest(api, {"tickets": tickets(5)})
    incident_id = declare(api)["id"]
    ids = [t["id"] for t in api.get("/api/v1/tickets?per_page=5").get_json()["items"]][:2]
    response = client.post("/tickets/link", data={"incident_id": incident_id, "mode": "selected", "ticket": ids,
                                                  "csrf_token": _token(client, "/tickets")})
    assert response.status_code == 302
    linked = api.get(f"/api/v1/incidents/{incident_id}/tickets").get_json()["items"]
    assert {t["id"] for t in linked} == set(ids)
    client.post(f"/incidents/{incident_id}/tickets/unlink",
                data={"external_id": [linked[0]["external_id"]], "csrf_token": _token(client, f"/incidents/{incident_id}")})
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["linked_tickets"] == 1


def _token(client, page):
    from ..web_helpers import csrf_from
    return csrf_from(client, page)


def test_stats_follow_people_at_once_and_floods_at_most_every_two_seconds(app, client, make_user, api, frozen):
    logged_in(client, make_user)
    ingest(api, {"tickets": tickets(10)})
    incident_id = declare(api)["id"]
    api.post(f"/api/v1/incidents/{incident_id}/tickets", json={"external_ids": ["ZD-1", "ZD-2"]})

    def stored_total():
        with app.app_context():
            return db.session.get(IncidentTicketStats, incident_id).data["total"]

    assert 'id="linked-count">2<' in client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert stored_total() == 2
    api.post(f"/api/v1/incidents/{incident_id}/tickets", json={"external_ids": ["ZD-3"]})  # a person acts
    assert 'id="linked-count">3<' in client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert stored_total() == 3

    api.post(f"/api/v1/incidents/{incident_id}/link-rules", json={"tags": ["login"]})
    ingest(api, {"tickets": tickets(4, start=100)})  # the flood links by rule
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert 'id="linked-count">7<' in page  # the count is always exact...
    assert stored_total() == 3  # ...the chart may be up to two seconds behind a rule-driven flood
    clock.advance(seconds=3)
    client.get(f"/incidents/{incident_id}")
    assert stored_total() == 7


def test_flood_detector_job_and_declaring_from_the_dashboard(app, client, make_user, api, frozen):
    logged_in(client, make_user)
    seed_flood(app, api)
    with app.app_context():
        signals = db.session.scalars(select(FloodSignal)).all()
        assert [(s.kind, s.key, s.recent) for s in signals] == [("tag", "login", 100)]
    page = client.get("/").get_data(as_text=True)
    assert "Possible outage" in page and "Declare and link 100" in page

    response = post_form(client, "/floods/declare", {"kind": "tag", "key": "login", "severity": "SEV2"}, page="/")
    incident_id = int(response.headers["Location"].rsplit("/", 1)[1])
    body = api.get(f"/api/v1/incidents/{incident_id}").get_json()
    assert (body["severity"], body["linked_tickets"]) == ("SEV2", 100)
    assert api.get(f"/api/v1/incidents/{incident_id}/link-rules").get_json()["items"][0]["tags"] == ["login"]
    assert 'id="possible-outages"' not in client.get("/").get_data(as_text=True)
    # the rule keeps linking the flood as it goes on
    assert ingest(api, {"tickets": tickets(3, start=5000, tags=["login"])})["linked"] == 3


def test_steady_traffic_raises_no_alarm(app, api, frozen):
    base = clock.utcnow()
    steady = [
        ticket(n, tags=["billing"], created_at=(base - timedelta(hours=24) + timedelta(minutes=n)).isoformat())
        for n in range(0, 24 * 60, 1)
    ]
    for start in range(0, len(steady), 5000):
        ingest(api, {"tickets": steady[start : start + 5000]})
    worker.flood_signals(app)
    with app.app_context():
        assert db.session.scalars(select(FloodSignal)).all() == []


def test_merge_from_the_page(client, make_user, api):
    logged_in(client, make_user)
    parent, duplicate = declare(api)["id"], declare(api, title="dup")["id"]
    response = post_form(client, f"/incidents/{duplicate}/merge", {"into": parent}, page=f"/incidents/{duplicate}")
    assert response.headers["Location"].endswith(f"/incidents/{parent}")
    assert api.get(f"/api/v1/incidents/{duplicate}").get_json()["merged_into"] == parent
    assert "Merged into" in client.get(f"/incidents/{duplicate}").get_data(as_text=True)


def test_csv_upload_from_the_tickets_view(client, make_user, api):
    import io
    from pathlib import Path

    logged_in(client, make_user)
    incident_id = declare(api)["id"]
    data = (Path(__file__).resolve().parents[1] / "data" / "zendesk-export.csv").read_bytes()
    response = client.post(
        "/tickets/import",
        data={
            "file": (io.BytesIO(data), "export.csv"),
            "incident_id": str(incident_id),
            "source": "zendesk",
            "csrf_token": _token(client, "/tickets"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert "10 linked to INC-" in client.get("/tickets").get_data(as_text=True)
    assert api.get(f"/api/v1/incidents/{incident_id}").get_json()["linked_tickets"] == 10

    bad = (Path(__file__).resolve().parents[1] / "data" / "bad-rows.csv").read_bytes()
    client.post(
        "/tickets/import",
        data={"file": (io.BytesIO(bad), "bad.csv"), "csrf_token": _token(client, "/tickets")},
        content_type="multipart/form-data",
    )
    page = client.get("/tickets").get_data(as_text=True)
    assert "Nothing was imported: 6 bad rows" in page and "line 4:" in page
