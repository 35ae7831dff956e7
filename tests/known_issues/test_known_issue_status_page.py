"""The workaround on the public status page: shown while the incident is open and published, gone
once it is resolved or withdrawn, refreshed at once in the snapshot; escaped; and nothing internal
(symptoms, cause, fix, tags, phrases) ever on the page, its JSON or the Atom feed."""
from __future__ import annotations

import json

import pytest

from incident import clock
from incident.status.statuspage import NAMES

from ..status_helpers import component, update
from ..status_helpers import incident as new_incident
from .support import INTERNAL, RECORD, put, resolve

WORKAROUND = RECORD["workaround"]
PUBLIC_PATHS = ("/status", "/status?lang=it", "/status/feed.atom", *(f"/api/v2/{name}" for name in NAMES))


@pytest.fixture
def snap(app):
    """Only this process's commits refresh the snapshot (no time-based re-check during a test)."""
    app.config["STATUS_SNAPSHOT_CHECK_SECONDS"] = 3600
    app.extensions.pop("status_snapshot", None)
    yield lambda: app.extensions["status_snapshot"]
    app.config["STATUS_SNAPSHOT_CHECK_SECONDS"] = 0
    app.extensions.pop("status_snapshot", None)


def page(client, path="/status") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_shown_while_open_and_published_and_refreshed_at_once(client, api, frozen, snap):
    component(api, "Login")
    incident_id = new_incident(api, "Login failing", "SEV2", ["login"])
    put(api, incident_id)
    assert WORKAROUND not in page(client)                    # not published yet: the incident is not on the page
    update(api, incident_id, "We are looking into it.", status="investigating")
    html = page(client)
    assert "What you can do meanwhile" in html and WORKAROUND in html
    assert "Cosa potete fare nel frattempo" in page(client, "/status?lang=it")
    assert WORKAROUND in page(client, "/status/feed.atom")

    builds = snap().builds
    put(api, incident_id, workaround="Use the backup site at backup.example.com.")
    clock.advance(seconds=1)
    html = page(client)
    assert snap().builds == builds + 1                       # the change bumped the page: rebuilt at once
    assert "backup.example.com" in html and WORKAROUND not in html
    put(api, incident_id, workaround="Use the backup site at backup.example.com.", fix="changed, internal")
    page(client)
    assert snap().builds == builds + 1                       # only the workaround is public: no rebuild

    resolve(api, incident_id)
    assert "backup.example.com" not in page(client)          # resolved: gone from the page
    assert "backup.example.com" not in page(client, "/status/feed.atom")
    update(api, incident_id, "It is back.", status="investigating")   # reopened: shown again
    assert "backup.example.com" in page(client)

    api.delete(f"/api/v1/incidents/{incident_id}/known-issue")
    assert "backup.example.com" not in page(client) and "What you can do meanwhile" not in page(client)


def test_an_unpublished_incident_never_shows_its_workaround(client, api, frozen):
    component(api, "Login")
    incident_id = new_incident(api, "Login failing", "SEV2", ["login"])
    update(api, incident_id, "internal only", public=False)
    put(api, incident_id)
    for path in PUBLIC_PATHS:
        assert WORKAROUND not in page(client, path)


def test_nothing_internal_reaches_the_page_its_json_or_the_feed(client, api, frozen):
    component(api, "Login")
    incident_id = new_incident(api, "Login failing", "SEV2", ["login"])
    update(api, incident_id, "Investigating.", status="investigating")
    put(api, incident_id, tags=["secret-tag"], match_phrases=["secret phrase"])
    texts = {path: page(client, path) for path in PUBLIC_PATHS}
    assert WORKAROUND in texts["/status"] and WORKAROUND in texts["/status/feed.atom"]
    for path, text in texts.items():
        for secret in (*INTERNAL, "secret-tag", "secret phrase"):
            assert secret not in text, (path, secret)
    # The JSON keeps Statuspage's fields exactly: no workaround (nor anything else) added.
    [unresolved] = json.loads(texts["/api/v2/incidents/unresolved.json"])["incidents"]
    assert "workaround" not in json.dumps(unresolved) and WORKAROUND not in json.dumps(unresolved)
    resolve(api, incident_id)
    for path in PUBLIC_PATHS:
        text = page(client, path)
        assert WORKAROUND not in text and not any(secret in text for secret in INTERNAL)


def test_the_workaround_is_escaped_on_the_page_and_in_the_feed(client, api, frozen):
    component(api, "Login")
    incident_id = new_incident(api, "Login failing", "SEV2", ["login"])
    update(api, incident_id, "Investigating.", status="investigating")
    put(api, incident_id, workaround="<script>alert(1)</script> & <img src=x onerror=alert(2)>")
    html = page(client)
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(2)&gt;" in html
    feed = page(client, "/status/feed.atom")
    assert "<script>" not in feed and "&lt;script" not in feed.replace("&amp;lt;script", "")
    assert "&amp;lt;script&amp;gt;alert(1)" in feed        # escaped HTML inside the entry's escaped content
