"""Reminders on the moved clock, each once: the commander of a review still in draft, action items' owners
the day before and on the due day; queued by the worker's job, sent by the dispatcher, to their channel."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from incident import clock, worker
from incident.auth.service import deactivate_staff, get_user_by_email
from incident.extensions import db
from incident.outbox.models import Delivery
from incident.reviews.reminders import remind_due

from ..helpers import declare, timeline
from .support import update


def reminders(app):
    with app.app_context():
        return db.session.execute(select(Delivery.channel, Delivery.recipient, Delivery.status, Delivery.text,
                                         Delivery.dedupe_key).where(Delivery.purpose == "reminder")
                                  .order_by(Delivery.id)).all()


def due(app):
    with app.app_context():
        return remind_due()


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0):
    clock.freeze(datetime(2026, 11, day, hour, minute, second, tzinfo=timezone.utc))


def test_the_commander_is_reminded_once_of_a_draft(app, api, make_user, frozen, channels):
    make_user("bo@example.com", role="lead", slack_id="UBO")
    iid = declare(api, commander="bo@example.com", title="Login <!channel> down")["id"]
    update(api, iid, "resolved", "fixed")   # 09:00 on the 22nd
    at(25, 8, 59, 59)
    assert due(app) == 0
    at(25, 9)
    assert (worker.review_reminders, 60) in worker.PERIODIC_JOBS
    worker.review_reminders(app)            # the worker's job queues it…
    worker.review_reminders(app)            # …once
    assert due(app) == 0
    [(channel, to, status, text, key)] = reminders(app)
    assert (channel, to, status) == ("slack", "UBO", "queued")
    assert "still a draft" in text and "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert f"<http://tocsin.test/incidents/{iid}/review>" in text
    worker.dispatch(app)                    # the dispatcher sends it, on Slack
    assert [to for to, m in channels["slack"].sent if "checklist" not in m.text] == ["UBO"]  # not the role's checklists
    assert reminders(app)[0][2] == "sent"
    assert [e["data"] for e in timeline(api, iid) if e["kind"] == "review_reminded"] == [{"to": "bo@example.com"}]
    at(29)
    assert due(app) == 0 and len(reminders(app)) == 1


def test_no_reminder_once_the_review_moved_on(app, api, frozen):
    iid = declare(api)["id"]
    update(api, iid, "resolved", "fixed")
    assert api.patch(f"/api/v1/incidents/{iid}/review", json={"status": "in_review"}).status_code == 200
    at(26)
    assert due(app) == 0 and reminders(app) == []


def test_a_reopened_incident_waits_for_its_next_resolution(app, api, frozen):
    iid = declare(api)["id"]
    update(api, iid, "resolved", "fixed")
    at(23, 9)
    update(api, iid, "investigating", "it came back")
    at(26)
    assert due(app) == 0                      # open: no clock runs
    update(api, iid, "resolved", "fixed for good")   # 00:00 on the 26th
    at(28, 23, 59)
    assert due(app) == 0
    at(29)
    assert due(app) == 1
    [(channel, to, *_)] = reminders(app)
    assert (channel, to) == ("email", "lead@example.com")   # no Slack id: email


def test_owners_are_reminded_the_day_before_and_on_the_day_once_each(app, api, make_user, frozen, channels):
    make_user("amy@example.com", role="engineer")
    iid = declare(api)["id"]
    update(api, iid, "resolved", "fixed")
    item = api.post(f"/api/v1/incidents/{iid}/action-items",
                    json={"title": "Add a canary", "owner": "amy@example.com", "due_on": "2026-11-25"}).get_json()
    api.patch(f"/api/v1/incidents/{iid}/review", json={"status": "in_review"})   # only the item's reminders here
    at(23, 23, 59)
    assert due(app) == 0
    at(24)
    assert due(app) == 1 and due(app) == 0
    at(24, 18)
    assert due(app) == 0
    at(25, 0, 1)
    assert due(app) == 1 and due(app) == 0
    at(26)
    assert due(app) == 0
    rows = reminders(app)
    assert [(c, to, key.rsplit(":", 1)[1]) for c, to, _, _, key in rows] == [
        ("email", "amy@example.com", "eve"), ("email", "amy@example.com", "due")]
    assert "due tomorrow (2026-11-25): Add a canary" in rows[0][3] and "due today" in rows[1][3]
    worker.dispatch(app)
    assert [to for to, _ in channels["email"].sent] == ["amy@example.com", "amy@example.com"]
    # a new due day is a new promise: reminded again for it, once
    at(26, 9)
    assert api.patch(f"/api/v1/action-items/{item['id']}", json={"due_on": "2026-11-27"}).status_code == 200
    assert due(app) == 1 and due(app) == 0 and len(reminders(app)) == 3


def test_closed_items_and_inactive_owners(app, api, make_user, frozen):
    make_user("amy@example.com", role="engineer")
    make_user("gone@example.com", role="engineer", slack_id="UGONE")
    iid = declare(api)["id"]
    update(api, iid, "resolved", "fixed")
    path = f"/api/v1/incidents/{iid}/action-items"
    done = api.post(path, json={"title": "done early", "owner": "amy@example.com", "due_on": "2026-11-23"}).get_json()
    api.post(path, json={"title": "orphan", "owner": "gone@example.com", "due_on": "2026-11-23"})
    assert api.patch(f"/api/v1/action-items/{done['id']}", json={"state": "done"}).status_code == 200
    with app.app_context():
        deactivate_staff(None, get_user_by_email("gone@example.com"))
    at(22, 12)   # the day before the 23rd
    assert due(app) == 1
    [(channel, to, status, _, _)] = reminders(app)
    assert (to, status) == ("", "skipped")    # nobody to tell: kept as skipped, so once
    assert due(app) == 0
