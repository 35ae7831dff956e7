"""The review's pages: read, write with a preview, move along, export, print; action items on the review,
on *My action items* and overdue on the dashboard."""
from __future__ import annotations

import re

from incident import clock

from ..helpers import PASSWORD, declare, logged_in
from ..web_helpers import csrf_from, login
from .support import update


def resolved_sev1(api):
    incident = declare(api, title="Login <b>failing</b>")
    update(api, incident["id"], "resolved", "fixed")
    return incident["id"]


def test_a_lead_writes_previews_saves_and_publishes(app, api, client, make_user, frozen):
    iid = resolved_sev1(api)
    logged_in(client, make_user, role="lead", email="ana@example.com")
    page = client.get(f"/incidents/{iid}/review")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Login &lt;b&gt;failing&lt;/b&gt;" in html and "<b>failing</b>" not in html
    assert 'id="review-form"' in html and "Send for review" in html
    token = csrf_from(client, f"/incidents/{iid}/review")
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    form = {"csrf_token": token, "version": version, "summary": "Logins **failed** <script>alert(1)</script>",
            "impact": "[click](javascript:alert(1))", "root_cause": "", "went_well": "", "to_improve": ""}

    preview = client.post(f"/incidents/{iid}/review", data={**form, "action": "preview"})
    shown = preview.get_data(as_text=True)
    assert "<strong>failed</strong>" in shown and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert "<script>alert" not in shown and 'href="javascript:' not in shown
    assert api.get(f"/api/v1/incidents/{iid}/review").get_json()["sections"]["summary"] == ""   # not saved

    live = client.post(f"/incidents/{iid}/review/preview", data=form)
    assert live.status_code == 200 and 'data-section="summary"' in live.get_data(as_text=True)
    assert "<script>alert" not in live.get_data(as_text=True)

    saved = client.post(f"/incidents/{iid}/review", data={**form, "action": "save"})
    assert saved.status_code == 302
    assert api.get(f"/api/v1/incidents/{iid}/review").get_json()["sections"]["summary"].startswith("Logins **failed**")

    stale = client.post(f"/incidents/{iid}/review", data={**form, "summary": "my lost words?", "action": "save"})
    assert stale.status_code == 409   # someone saved since this form was read: what was typed is still there
    assert "my lost words?" in stale.get_data(as_text=True) and "reload it" in stale.get_data(as_text=True)

    version = api.get(f"/api/v1/incidents/{iid}/review").get_json()["version"]
    for to in ("in_review", "published"):
        moved = client.post(f"/incidents/{iid}/review/status", data={"csrf_token": token, "to": to, "version": version})
        assert moved.status_code == 302
        version = api.get(f"/api/v1/incidents/{iid}/review").get_json()["version"]
    html = client.get(f"/incidents/{iid}/review").get_data(as_text=True)
    assert 'id="review-form"' not in html and "Reopen to draft" in html and 'id="published-note"' in html
    assert "<strong>failed</strong>" in html and "<script>alert" not in html


def test_viewers_read_but_cannot_write(app, api, client, make_user, frozen):
    iid = resolved_sev1(api)
    logged_in(client, make_user, role="viewer", email="vi@example.com")
    html = client.get(f"/incidents/{iid}/review").get_data(as_text=True)
    assert 'id="review-form"' not in html and "Send for review" not in html and "Export Markdown" in html
    token = csrf_from(client, f"/incidents/{iid}/review")
    refused = client.post(f"/incidents/{iid}/review", data={"csrf_token": token, "summary": "x", "action": "save"})
    assert refused.status_code == 403
    assert client.post(f"/incidents/{iid}/review/status", data={"csrf_token": token, "to": "in_review"}).status_code == 403
    assert api.get(f"/api/v1/incidents/{iid}/review").get_json()["status"] == "draft"


def test_export_print_and_chart_pages(app, api, client, make_user, frozen):
    iid = resolved_sev1(api)
    logged_in(client, make_user)
    md = client.get(f"/incidents/{iid}/review.md")
    assert md.status_code == 200 and md.mimetype == "text/markdown"
    assert md.headers["Content-Disposition"] == f'attachment; filename="INC-{iid}-review.md"'
    assert md.get_data(as_text=True).startswith(f"# INC-{iid} Login \\<b\\>failing\\</b\\>: post-incident review")
    printed = client.get(f"/incidents/{iid}/review/print").get_data(as_text=True)
    assert 'reviews.css' in printed and "Post-incident review" in printed and "<b>failing</b>" not in printed
    svg = client.get(f"/incidents/{iid}/review/chart.svg")
    assert svg.mimetype == "image/svg+xml" and svg.get_data(as_text=True).startswith("<svg")
    client.post("/logout", data={"csrf_token": csrf_from(client, "/")})
    assert client.get(f"/incidents/{iid}/review.md").status_code == 302   # staff only: to the login page


def test_missing_review_page_offers_a_lead_to_open_one(app, api, client, make_user, frozen):
    incident = declare(api, severity="SEV4")
    logged_in(client, make_user)
    assert client.get(f"/incidents/{incident['id']}/review").status_code == 404
    update(api, incident["id"], "resolved", "fixed")
    page = client.get(f"/incidents/{incident['id']}")
    assert "Open a review" in page.get_data(as_text=True)
    token = csrf_from(client, f"/incidents/{incident['id']}")
    assert client.post(f"/incidents/{incident['id']}/review/open", data={"csrf_token": token}).status_code == 302
    assert client.get(f"/incidents/{incident['id']}/review").status_code == 200
    assert 'id="review-card"' in client.get(f"/incidents/{incident['id']}").get_data(as_text=True)


def test_action_items_on_the_review_mine_and_the_dashboard(app, api, client, make_user, frozen):
    iid = resolved_sev1(api)
    make_user("owner@example.com", role="viewer", password=PASSWORD)
    logged_in(client, make_user, role="lead", email="ana@example.com")
    token = csrf_from(client, f"/incidents/{iid}/review")
    added = client.post(f"/incidents/{iid}/action-items", data={
        "csrf_token": token, "title": "Alert on <5xx> rate", "owner": "owner@example.com", "due_on": "2026-11-24",
        "url": "https://tracker.example.com/ENG-1"})
    assert added.status_code == 302
    bad = client.post(f"/incidents/{iid}/action-items", data={
        "csrf_token": token, "title": "x", "owner": "owner@example.com", "due_on": "2026-11-24", "url": "javascript:x"})
    assert bad.status_code == 302 and len(api.get(f"/api/v1/incidents/{iid}/review").get_json()["action_items"]) == 1
    html = client.get(f"/incidents/{iid}/review").get_data(as_text=True)
    assert "Alert on &lt;5xx&gt; rate" in html and 'href="https://tracker.example.com/ENG-1"' in html
    assert 'id="overdue-action-items"' not in client.get("/").get_data(as_text=True)

    clock.advance(days=3)   # the 25th is past the 24th: overdue (and the session has ended: log in again)
    login(client, "ana@example.com", PASSWORD)
    dashboard = client.get("/").get_data(as_text=True)
    assert 'id="overdue-action-items"' in dashboard and "Alert on &lt;5xx&gt; rate" in dashboard

    client.post("/logout", data={"csrf_token": csrf_from(client, "/")})
    login(client, "owner@example.com", PASSWORD)
    mine = client.get("/action-items/mine").get_data(as_text=True)
    assert "Alert on &lt;5xx&gt; rate" in mine and "overdue" in mine
    item_id = api.get(f"/api/v1/incidents/{iid}/review").get_json()["action_items"][0]["id"]
    done = client.post(f"/action-items/{item_id}/state", data={"csrf_token": csrf_from(client, "/action-items/mine"),
                                                               "state": "done", "back": "mine"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/action-items/mine")
    assert api.get(f"/api/v1/incidents/{iid}/review").get_json()["action_items"][0]["state"] == "done"
    assert 'id="my-closed-items"' in client.get("/action-items/mine").get_data(as_text=True)
    assert 'id="overdue-action-items"' not in client.get("/").get_data(as_text=True)


def test_the_incident_timeline_shows_review_events(app, api, client, make_user, frozen):
    iid = resolved_sev1(api)
    logged_in(client, make_user)
    html = client.get(f"/incidents/{iid}").get_data(as_text=True)
    assert "review opened" in html and "opened on resolving" in html
