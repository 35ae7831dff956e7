"""Customer broadcasts in the staff UI: compose with a live preview, schedule, edit, cancel, progress,
deliveries and the sandbox outbox; escaping and permissions."""
from __future__ import annotations

import re

import pytest

from incident import clock

from ..conftest import count_rows
from ..helpers import broadcast, logged_in, run_worker
from ..web_helpers import FORM, compose_path, csrf_from, post_compose, post_form, preview

XSS = "<script>alert(1)</script>"
def test_the_compose_page_has_the_form_and_says_times_are_utc(client, make_user, crowd):
    incident, _ = crowd
    logged_in(client, make_user)
    response = client.get(compose_path(incident["id"]))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for field in ('name="kind" value="apology"', 'name="channels" value="sms"', 'value="service_subscribers"',
                  'name="segments"', 'name="message"', 'type="datetime-local"', 'name="repeat_every_minutes"',
                  'name="next_update_minutes"', 'name="important"', 'name="csrf_token"'):
        assert field in page, field
    assert "(UTC, not your local time; now it is 2026-11-22 09:00 UTC)" in page
    assert 'src="/static/broadcasts.js"' in page and "<script>" not in page
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert re.search(r"style-src 'self' 'unsafe-hashes'( 'sha256-[A-Za-z0-9+/=]+')+;", policy)


def test_the_preview_shows_each_channel_in_each_locale_and_saves_nothing(app, client, make_user, crowd):
    incident, _ = crowd
    logged_in(client, make_user)
    response = preview(client, incident["id"], message=f"Logins {XSS} fail")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.search(r'id="preview-audience">5<', html)
    assert "shown as Ada would get it" in html
    cells = dict(re.findall(r'data-channel="(\w+)" data-locale="(\w+)"', html))
    assert len(re.findall(r'<article class="preview-cell"', html)) == 15 and set(cells) == {"email", "sms", "slack"}
    subjects = re.findall(r'<p class="email-subject"><small>Subject</small> <strong>([^<]+)</strong>', html)
    assert len(subjects) == 5 and len(set(subjects)) == 5             # English, Italian, French, German, Spanish
    assert html.count("<iframe class=\"email-html\" sandbox srcdoc=") == 5
    assert re.search(r'<span class="sms-segments">\d+ segments?</span>', html)
    assert "GSM-7" in html or "UCS-2" in html
    assert 'class="slack-preview"' in html and "Block Kit JSON" in html
    assert XSS not in html and "alert(1)" in html                     # shown, escaped, in every part
    assert count_rows(app, "broadcasts", "broadcast_sends") == {"broadcasts": 0, "broadcast_sends": 0}


def test_a_preview_of_an_incomplete_form_says_what_is_missing(client, make_user, crowd):
    incident, _ = crowd
    logged_in(client, make_user)
    response = preview(client, incident["id"], channels=[])
    assert response.status_code == 422
    assert "Please correct the form." in response.get_data(as_text=True)
    assert "channels" in response.get_data(as_text=True)


def test_scheduling_from_the_form_then_progress_and_deliveries(app, client, make_user, crowd, channels):
    incident, (ada, bruno, *_rest) = crowd
    logged_in(client, make_user)
    response = post_compose(client, incident["id"], kind="status", channels=["email", "sms"],
                            message="We moved traffic", when="at", send_at="2026-11-22T09:30",
                            next_update_minutes="60")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/incidents/{incident['id']}#broadcasts")
    room = client.get(f"/incidents/{incident['id']}").get_data(as_text=True)
    assert "Status broadcast scheduled for 2026-11-22 09:30 UTC." in room
    section = room[room.index('id="broadcasts"'):]
    section = section[:section.index("</section>")]
    assert "next send: <span class=\"b-next\">2026-11-22 09:30 UTC</span>" in section and "scheduled" in section

    progress = client.get(f"/incidents/{incident['id']}/broadcasts.json").get_json()["broadcasts"]
    assert len(progress) == 1 and progress[0]["next_send_at"] == "2026-11-22T09:30:00+00:00"
    assert progress[0]["pending"] and progress[0]["total"] == 0

    clock.advance(minutes=30)
    run_worker(app)
    progress = client.get(f"/incidents/{incident['id']}/broadcasts.json").get_json()["broadcasts"][0]
    assert progress["status"] == "done" and not progress["pending"]
    assert progress["counts"]["sent"] == 3 and progress["counts"]["skipped"] == 2 and progress["total"] == 5

    deliveries = f"/broadcasts/{progress['id']}/deliveries"
    page = client.get(deliveries).get_data(as_text=True)
    assert page.count("<tr data-delivery=") == 5
    skipped = client.get(deliveries + "?status=skipped").get_data(as_text=True)
    assert skipped.count("<tr data-delivery=") == 2 and "Bruno" in skipped and "milestones" in skipped
    assert client.get(deliveries + "?status=bogus").status_code == 200      # an unknown filter shows all
    assert client.get("/broadcasts/999/deliveries").status_code == 404


@pytest.mark.parametrize("changes, says", [
    ({"channels": []}, "channels"),
    ({"audience": [], "segments": ""}, "say who hears it"),
    ({"audience": [], "segments": "nobody"}, "Nobody is in this audience."),
    ({"kind": "sorry"}, "kind"),
    ({"when": "at", "send_at": ""}, "say when to send it"),
    ({"when": "at", "send_at": "2026-11-22T08:00"}, "The send time is in the past."),
    ({"when": "at", "send_at": "tomorrow"}, "not a date and time"),
    ({"when": "repeat", "repeat_every_minutes": "30"}, "only status updates repeat"),
    ({"kind": "status", "when": "repeat", "repeat_every_minutes": "1"}, "repeat_every_minutes"),
    ({"kind": "status", "when": "repeat", "repeat_every_minutes": ""}, "say how often"),
])
def test_form_errors_schedule_nothing_and_keep_the_form(app, client, make_user, crowd, changes, says):
    incident, _ = crowd
    logged_in(client, make_user)
    response = post_compose(client, incident["id"], message="Keep these words", **changes)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert says in page
    assert ">Keep these words</textarea>" in page
    assert count_rows(app, "broadcasts", "broadcast_sends") == {"broadcasts": 0, "broadcast_sends": 0}


def test_edit_changes_only_what_changed_and_cancel_stops_it(app, client, make_user, api, crowd, channels):
    incident, _ = crowd
    logged_in(client, make_user)
    post_compose(client, incident["id"], when="at", send_at="2026-11-22T10:00")
    bid = client.get(f"/incidents/{incident['id']}/broadcasts.json").get_json()["broadcasts"][0]["id"]
    edit = f"/broadcasts/{bid}/edit"
    form = client.get(edit).get_data(as_text=True)
    assert 'value="2026-11-22T10:00"' in form and 'name="kind" value="apology"' in form
    kept = {**FORM, "when": "at", "send_at": "2026-11-22T10:00"}
    response = post_form(client, edit, {**kept, "message": "EU users only"}, page=edit)
    assert response.status_code == 302
    body = api.get(f"/api/v1/broadcasts/{bid}").get_json()
    assert body["message"] == "EU users only" and body["next_send_at"] == "2026-11-22T10:00:00+00:00"
    events = api.get(f"/api/v1/incidents/{incident['id']}/timeline").get_json()["items"]
    assert [e["data"]["changed"] for e in events if e["kind"] == "broadcast_edited"] == [["message"]]

    bad = post_form(client, edit, {**kept, "channels": []}, page=edit)
    assert bad.status_code == 422 and api.get(f"/api/v1/broadcasts/{bid}").get_json()["channels"] == FORM["channels"]

    post_form(client, f"/broadcasts/{bid}/cancel", {}, page=edit)
    assert api.get(f"/api/v1/broadcasts/{bid}").get_json()["status"] == "cancelled"
    response = client.get(edit, follow_redirects=True).get_data(as_text=True)
    assert "nothing left to send" in response
    again = post_form(client, f"/broadcasts/{bid}/cancel", {}, page=f"/incidents/{incident['id']}")
    assert "already cancelled" in client.get(again.headers["Location"]).get_data(as_text=True)
    clock.advance(hours=2)
    run_worker(app)
    assert len(channels["email"].sent) == 0


def test_viewers_see_progress_but_only_leads_compose_edit_or_cancel(app, client, make_user, api, crowd):
    incident, _ = crowd
    created = broadcast(api, incident["id"], send_at="2026-11-22T10:00:00+00:00").get_json()
    room = f"/incidents/{incident['id']}"
    assert client.get(f"{room}/broadcasts.json").status_code == 302          # not logged in: to the login page
    logged_in(client, make_user, role="viewer", email="vic@example.com")
    page = client.get(room).get_data(as_text=True)
    assert f'data-broadcast="{created["id"]}"' in page and "compose a broadcast" not in page
    assert f"/broadcasts/{created['id']}/edit" not in page
    assert client.get(f"{room}/broadcasts.json").status_code == 200
    assert client.get(f"/broadcasts/{created['id']}/deliveries").status_code == 200
    token = csrf_from(client, room)
    assert client.get(compose_path(incident["id"])).status_code == 403
    for path in (compose_path(incident["id"]), f"{room}/broadcasts/preview", f"/broadcasts/{created['id']}/edit",
                 f"/broadcasts/{created['id']}/cancel"):
        assert client.post(path, data={**FORM, "csrf_token": token}).status_code == 403, path
    assert api.get(f"/api/v1/broadcasts/{created['id']}").get_json()["status"] == "scheduled"
    assert count_rows(app, "broadcasts")["broadcasts"] == 1


def test_a_form_without_its_csrf_token_is_refused(app, client, make_user, crowd):
    incident, _ = crowd
    logged_in(client, make_user)
    assert client.post(compose_path(incident["id"]), data=FORM).status_code == 400
    assert count_rows(app, "broadcasts")["broadcasts"] == 0


def test_the_outbox_shows_each_broadcast_message_as_the_customer_got_it(app, client, make_user, api, crowd,
                                                                        channels):
    from incident.customers.models import Customer
    from incident.extensions import db

    incident, (ada, *_rest) = crowd
    with app.app_context():
        db.session.get(Customer, ada).name = f"Ada {XSS}"
        db.session.commit()
    broadcast(api, incident["id"])
    run_worker(app)
    logged_in(client, make_user, role="viewer", email="vic@example.com")
    response = client.get("/outbox")
    page = response.get_data(as_text=True)
    assert XSS not in page
    ada_email = page[page.index("to ada@example.com"):]
    ada_email = ada_email[:ada_email.index("</li>")]
    assert '<iframe class="email-html" sandbox srcdoc="' in ada_email
    assert "Ada &amp;lt;script&amp;gt;" in ada_email          # escaped in the email, escaped again in srcdoc
    assert "/unsubscribe/" in ada_email
    assert 'class="email-subject"' in ada_email and 'class="email-text"' in ada_email
    bruno_sms = page[page.index("to +393471000002"):]
    bruno_sms = bruno_sms[:bruno_sms.index("</li>")]
    assert 'class="sms-text"' in bruno_sms and "Ci scusiamo" in bruno_sms and 'data-locale="it"' in bruno_sms
    acme = page[page.index("to C0ACME"):]
    acme = acme[:acme.index("</li>")]
    assert 'class="slack-preview"' in acme and "Acme" in acme
    assert "'unsafe-hashes'" in response.headers["Content-Security-Policy"]
    assert client.get("/outbox?status=skipped").status_code == 200


def test_slack_mrkdwn_is_shown_readably_and_safely():
    from incident.web.broadcast_views import mrkdwn

    shown = str(mrkdwn(":warning: *Down* since _09:12_ &lt;script&gt; &amp; "
                       "<https://status.example.com/?a=1&amp;b=2|status page> <javascript:alert(1)|click>"))
    assert shown.startswith("\u26a0\ufe0f <strong>Down</strong> since <em>09:12</em> &lt;script&gt; &amp; ")
    assert '<a href="https://status.example.com/?a=1&amp;b=2" rel="noopener noreferrer">status page</a>' in shown
    assert 'href="javascript' not in shown and shown.endswith("</a> click")   # only web links become links
