"""The snapshot: rebuilt on every public change and only then; other processes' changes are
seen within the check interval; a new day rebuilds (the history moves on)."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from incident import clock
from incident.extensions import db

from ..status_helpers import component, component_ids, incident, update


@pytest.fixture
def snap(app):
    app.config["STATUS_SNAPSHOT_CHECK_SECONDS"] = 3600   # only this process's commits, or a lapse, re-check
    app.extensions.pop("status_snapshot", None)
    yield lambda: app.extensions["status_snapshot"]
    app.config["STATUS_SNAPSHOT_CHECK_SECONDS"] = 0
    app.extensions.pop("status_snapshot", None)


def etag(client, path="/api/v2/summary.json"):
    response = client.get(path)
    assert response.status_code == 200
    return response.headers["ETag"]


def test_rebuilt_on_every_public_change_and_only_then(client, api, frozen, snap):
    component(api, "Login")
    incident_id = incident(api, "Login failing", "SEV2", ["login"])
    parent_id = incident(api, "Everything failing", "SEV1", ["api"])
    tag = etag(client)
    assert snap().builds == 1
    assert etag(client) == tag and etag(client, "/status") and etag(client, "/status/feed.atom")
    assert snap().builds == 1   # the page, the feed and the JSON come from one collection

    def changes(expect_public, action):
        nonlocal tag
        before = snap().builds
        action()
        clock.advance(minutes=1)
        new = etag(client)
        assert (snap().builds == before + 1) is expect_public, action
        assert (new != tag) is expect_public, action
        tag = new

    # Not public: an unpublished incident, internal updates, notes, summaries.
    changes(False, lambda: update(api, incident_id, "internal only", public=False))
    changes(False, lambda: api.patch(f"/api/v1/incidents/{incident_id}", json={"title": "Still private"}))
    # Public: the first public update publishes the incident.
    changes(True, lambda: update(api, incident_id, "Looking into it", status="investigating"))
    changes(False, lambda: update(api, incident_id, "internal again", public=False))
    changes(False, lambda: api.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": "a note"}))
    changes(False, lambda: api.patch(f"/api/v1/incidents/{incident_id}", json={"summary": "internal summary"}))
    changes(True, lambda: api.patch(f"/api/v1/incidents/{incident_id}", json={"title": "Login failing (EU)"}))
    changes(True, lambda: api.patch(f"/api/v1/incidents/{incident_id}", json={"severity": "SEV1"}))
    changes(True, lambda: update(api, incident_id, "", status="identified", public=False))  # the status is public
    changes(True, lambda: api.put(f"/api/v1/incidents/{incident_id}/status-impact", json={"impact": "minor"}))
    changes(True, lambda: component(api, "API", service="api"))
    changes(True, lambda: api.patch(f"/api/v1/status/components/{component_ids(api)['API']}",
                                    json={"description": "REST"}))
    changes(True, lambda: api.post("/api/v1/status/maintenances", json={
        "name": "Upgrade", "components": [component_ids(api)["API"]],
        "scheduled_for": "2026-11-25T01:00:00+00:00", "scheduled_until": "2026-11-25T02:00:00+00:00"}))
    changes(False, lambda: api.put(f"/api/v1/incidents/{parent_id}/status-impact", json={"impact": "none"}))
    changes(True, lambda: update(api, incident_id, "Fixed", status="resolved"))
    changes(True, lambda: update(api, incident_id, "It is back", status="investigating"))   # reopened
    changes(True, lambda: api.post(f"/api/v1/incidents/{incident_id}/merge", json={"into": parent_id}))
    # Refused changes change nothing.
    changes(False, lambda: api.post("/api/v1/status/components", json={"name": ""}))
    changes(False, lambda: api.post(f"/api/v1/incidents/{incident_id}/updates", json={"status": "nope"}))


def test_a_change_committed_by_another_process_is_seen_after_the_check_interval(app, client, api, frozen, snap):
    component(api, "Login")
    incident_id = incident(api, "Login failing", "SEV2", ["login"])
    tag = etag(client)
    with app.app_context():   # another process publishes: only the database knows
        db.session.execute(text("INSERT INTO incident_updates (incident_id, status, message, public, created_at) "
                                "VALUES (:i, 'investigating', 'from elsewhere', true, :at)"),
                           {"i": incident_id, "at": clock.utcnow().replace(tzinfo=None)})
        db.session.execute(text("UPDATE status_page_state SET version = version + 1"))
        db.session.commit()
    assert etag(client) == tag   # within the interval: the cached snapshot, no database work
    snap().checked_at = float("-inf")        # the interval has passed
    assert etag(client) != tag
    assert "from elsewhere" in client.get("/api/v2/incidents.json").get_data(as_text=True)


def test_a_new_day_rebuilds_the_history(client, api, frozen, snap):
    component(api, "Login")
    etag(client)
    clock.advance(hours=14)   # 23:00, the same day
    etag(client)
    assert snap().builds == 1
    clock.advance(hours=2)
    etag(client)
    assert snap().builds == 2



def test_the_fast_path_serves_the_same_response_without_flask(client, api, frozen, snap, monkeypatch):
    from incident.status.snapshot import Snapshot

    component(api, "Login")
    calls = []
    real = Snapshot.get
    monkeypatch.setattr(Snapshot, "get", lambda self, name: calls.append(name) or real(self, name))
    first = client.get("/status?lang=it")                                   # through Flask: rendered, kept
    again = client.get("/status", headers={"Accept-Language": "it-IT,it;q=0.9"})   # from the fast path
    assert calls == ["page.it"]
    assert again.data == first.data and sorted(again.headers.items()) == sorted(first.headers.items())
    assert "Content-Security-Policy" in again.headers and again.headers["Vary"] == "Accept-Language"
    assert (
        client.get("/status", headers={"If-None-Match": first.headers["ETag"], "Accept-Language": "it"}).status_code == 304
    )
    assert client.head("/status?lang=it").data == b""
    assert calls == ["page.it"]
    assert client.post("/status").status_code == 405
    component(api, "API", service="api")  # a public change in this process
    assert "API" in client.get("/status?lang=it").get_data(as_text=True)
    assert calls.count("page.it") == 2  # rebuilt once, through Flask
