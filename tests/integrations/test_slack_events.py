"""Slack's Events API (pins become timeline notes), checklist ticks from a role holder's message, and
the incident channel archived after resolution — on the moved clock, against the loopback Slack."""
from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest

from incident import clock, worker
from incident.config import ConfigError, load_settings
from incident.extensions import db
from incident.incidents.models import Incident

from ..conftest import count_rows
from ..helpers import PUBLIC, declare, deliveries, timeline
from .slack_helpers import block_actions, click, event, event_callback, params, slack_headers, slash

TABLES = ("timeline_events", "deliveries", "slack_events", "checklist_ticks")


@pytest.fixture
def room(app, api, make_user, setup, slack):
    """A SEV1 incident with its own Slack channel: (incident id, channel id)."""
    make_user("lena@example.com", role="lead", name="Lena", slack_id="ULENA")
    make_user("vic@example.com", role="viewer", slack_id="UVIC")
    incident_id = declare(api, title="Login failing for EU customers")["id"]
    worker.tick(app)
    with app.app_context():
        channel = db.session.get(Incident, incident_id).slack_channel_id
    assert channel
    return incident_id, channel


def notes(api, incident_id) -> list[tuple]:
    return [(e["actor"], e["data"]["text"], e["data"].get("author"), e["data"].get("pinned_by"), e["data"].get("via"))
            for e in timeline(api, incident_id) if e["kind"] == "note"]


def pin_added(channel: str, *, by: str = "ULENA", author: str = "UAMY", text: str = "Root cause: expired cert",
              ts: str = "1795000300.000100") -> dict:
    return {"type": "pin_added", "user": by, "channel_id": channel,
            "item": {"type": "message", "channel": channel, "created": 1795000310, "created_by": by,
                     "message": {"type": "message", "user": author, "text": text, "ts": ts, "team": "T0TOCSIN"}},
            "item_user": author, "pin_count": "1", "event_ts": "1795000310.000200"}


def reaction(channel: str, *, by: str = "ULENA", author: str = "UBOB", ts: str = "1795000400.000100",
             name: str = "pushpin") -> dict:
    return {"type": "reaction_added", "user": by, "reaction": name, "item_user": author,
            "item": {"type": "message", "channel": channel, "ts": ts}, "event_ts": "1795000410.000300"}


# Events API ---------------------------------------------------------------------------------------

def test_the_url_check_is_answered(app, hooks, frozen):
    body = {"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification"}
    response = event(hooks, body)
    assert response.status_code == 200
    assert response.get_json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


@pytest.mark.parametrize("tamper", ["wrong secret", "stale", "body changed"])
def test_unsigned_events_are_refused_and_change_nothing(app, api, hooks, room, tamper):
    incident_id, channel = room
    raw = json.dumps(event_callback(pin_added(channel)))
    signing = {"secret": "not-the-secret"} if tamper == "wrong secret" else {}
    headers = {**slack_headers(raw, **signing), "Content-Type": "application/json"}
    if tamper == "stale":
        clock.advance(minutes=6)
    if tamper == "body changed":
        raw = raw.replace("expired cert", "something else")
    before = count_rows(app, *TABLES)
    response = hooks.post("/slack/events", data=raw, headers=headers)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_signature"
    assert count_rows(app, *TABLES) == before and notes(api, incident_id) == []


def test_a_pinned_message_becomes_a_note_by_its_author_once(app, api, hooks, room):
    incident_id, channel = room
    assert event(hooks, event_callback(pin_added(channel, text="Root cause: expired cert &lt;api&gt;"))).status_code == 200
    assert notes(api, incident_id) == [("amy@example.com", "Root cause: expired cert <api>", "amy@example.com",
                                        "lena@example.com", "pin")]
    before = count_rows(app, *TABLES)
    clock.advance(seconds=4)   # Slack retries the same event when the answer was late
    assert event(hooks, event_callback(pin_added(channel)), retry=1).status_code == 200
    # the same message marked with :pushpin: as well: still one note
    assert event(hooks, event_callback(reaction(channel, ts="1795000300.000100"), event_id="Ev0PIN0002")).status_code == 200
    after = count_rows(app, *TABLES)
    assert after["timeline_events"] == before["timeline_events"] and after["deliveries"] == before["deliveries"]
    assert len(notes(api, incident_id)) == 1


def test_a_pushpin_reaction_is_read_by_the_worker_and_noted(app, api, hooks, room, slack):
    incident_id, channel = room
    slack.messages[(channel, "1795000400.000100")] = {"type": "message", "user": "UBOB", "ts": "1795000400.000100",
                                                      "text": "Rolled back 4.2.1 &amp; flushed caches"}
    assert event(hooks, event_callback(reaction(channel))).status_code == 200
    assert notes(api, incident_id) == []                       # the request does not call Slack
    assert deliveries(app, purpose="slack_pin")[0][:3] == ("slack", channel, "queued")
    worker.tick(app)
    history = params(slack.calls("conversations.history")[0])
    assert (history["channel"], history["latest"]) == (channel, "1795000400.000100")
    assert notes(api, incident_id) == [("bob@example.com", "Rolled back 4.2.1 & flushed caches", "bob@example.com",
                                        "lena@example.com", "reaction")]
    worker.tick(app)
    event(hooks, event_callback(reaction(channel), event_id="Ev0PIN0003"))
    worker.tick(app)
    assert len(notes(api, incident_id)) == 1 and len(slack.calls("conversations.history")) == 1


def test_a_message_by_someone_not_on_staff_is_noted_under_who_pinned_it(api, hooks, room):
    incident_id, channel = room
    event(hooks, event_callback(pin_added(channel, author="UGUEST", text="Customer says EU only")))
    assert notes(api, incident_id) == [("lena@example.com", "Customer says EU only", "Slack user UGUEST",
                                        "lena@example.com", "pin")]


@pytest.mark.parametrize("what", ["elsewhere", "other reaction", "by a stranger", "by a viewer", "a file"])
def test_what_does_not_become_a_note(app, api, hooks, room, what, caplog):
    incident_id, channel = room
    inner = {"elsewhere": pin_added("C0GENERAL"), "other reaction": reaction(channel, name="eyes"),
             "by a stranger": pin_added(channel, by="USTRANGER"), "by a viewer": pin_added(channel, by="UVIC"),
             "a file": {**pin_added(channel), "item": {"type": "file", "channel": channel, "file": {"id": "F1"}}}}[what]
    caplog.set_level(logging.WARNING, "incident.integrations")
    before = count_rows(app, *TABLES)
    assert event(hooks, event_callback(inner)).status_code == 200
    assert notes(api, incident_id) == [] and deliveries(app, purpose="slack_pin") == []
    if what in ("elsewhere", "other reaction", "a file"):   # not even remembered: Tocsin keeps nothing of them
        assert count_rows(app, *TABLES) == before
    if what in ("by a stranger", "by a viewer"):
        assert any("not noted" in r.getMessage() for r in caplog.records)


def test_a_malformed_event_is_a_400(app, hooks, frozen):
    raw = "[" * 3000 + "]" * 3000
    response = hooks.post("/slack/events", data=raw, headers={**slack_headers(raw), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert hooks.post("/slack/events", data="[]", headers={**slack_headers("[]"),
                                                          "Content-Type": "application/json"}).status_code == 400


# Checklists in Slack -------------------------------------------------------------------------------

def checklist_dm(server, user: str) -> dict:
    return [params(c) for c in server.calls("chat.postMessage") if c.params.get("channel") == user][0]


def tick(hooks, block: dict, *, user: str = "UAMY", on: bool = True, trigger: str = "1795.7.tick"):
    box = block["accessory"]
    action = {"type": "checkboxes", "action_id": box["action_id"], "block_id": block["block_id"],
              "selected_options": box["options"] if on else []}
    payload = block_actions(action, user=user, trigger_id=trigger)
    payload["container"] = {"type": "message", "message_ts": "1795000500.000001", "channel_id": "D0AMY"}
    return click(hooks, payload)


def test_a_new_role_holder_ticks_the_checklist_from_slack(app, api, hooks, room, slack):
    incident_id, _ = room
    assert api.put(f"/api/v1/incidents/{incident_id}/roles/technical_lead",
                   json={"user": "amy@example.com"}).status_code == 200
    worker.tick(app)
    dm = checklist_dm(slack, "UAMY")
    assert dm["blocks"][0]["text"]["text"].startswith(f"INC-{incident_id} · Technical lead: ")
    assert f"<{PUBLIC}/incidents/{incident_id}|Open INC-{incident_id}>" in dm["blocks"][1]["elements"][0]["text"]
    first = next(b for b in dm["blocks"] if b.get("accessory"))
    assert tick(hooks, first).status_code == 200
    checked = [e for e in timeline(api, incident_id) if e["kind"] == "checklist_item_checked"]
    assert [(e["actor"], e["data"]["item"]) for e in checked] == [("amy@example.com", first["text"]["text"])]
    _, _, runbook, key = first["block_id"].split(":")
    lists = api.get(f"/api/v1/incidents/{incident_id}/checklists?role=technical_lead").get_json()["items"]
    book = next(b for b in lists[0]["runbooks"] if b["slug"] == runbook)
    assert [i["checked"] for s in book["sections"] for i in s["items"] if i["key"] == key] == [True]

    before = count_rows(app, *TABLES)
    tick(hooks, first, trigger="1795.7.tick")                # Slack's retry of the same click
    assert count_rows(app, *TABLES) == before
    tick(hooks, first, on=False, trigger="1795.8.untick")
    assert [e["kind"] for e in timeline(api, incident_id)][-1] == "checklist_item_unchecked"


def test_a_tick_by_someone_who_does_not_hold_the_role_is_undone(app, api, hooks, room, slack):
    incident_id, _ = room
    api.put(f"/api/v1/incidents/{incident_id}/roles/technical_lead", json={"user": "amy@example.com"})
    worker.tick(app)
    first = next(b for b in checklist_dm(slack, "UAMY")["blocks"] if b.get("accessory"))
    assert tick(hooks, first, user="UBOB").status_code == 200
    assert "checklist_item_checked" not in [e["kind"] for e in timeline(api, incident_id)]
    worker.tick(app)
    redraw = params(slack.calls("chat.update")[-1])
    assert (redraw["channel"], redraw["ts"]) == ("D0AMY", "1795000500.000001")
    note = "Not ticked: Only a holder of this runbook's roles, or a lead, can tick its items."
    assert note in json.dumps(redraw["blocks"])
    assert "initial_options" not in json.dumps(redraw["blocks"])
    tick(hooks, first, user="USTRANGER", trigger="1795.9.x")
    assert "checklist_item_checked" not in [e["kind"] for e in timeline(api, incident_id)]


# Archiving the channel ------------------------------------------------------------------------------

def test_the_channel_is_archived_a_day_after_resolution(app, api, hooks, room, slack):
    incident_id, channel = room
    assert slash(hooks, "resolve Fixed", user="ULENA", channel=channel).status_code == 200
    clock.advance(hours=23, minutes=59)
    worker.tick(app)
    assert slack.calls("conversations.archive") == []
    clock.advance(minutes=1)
    worker.tick(app)
    last = [c.params for c in slack.calls("chat.postMessage") if c.params.get("channel") == channel][-1]
    assert last["text"] == (f"*INC-{incident_id}* was resolved; this channel is now archived. The post-incident "
                            f"review: <{PUBLIC}/incidents/{incident_id}/review|INC-{incident_id} review>")
    assert slack.calls("conversations.archive") == []        # the last message goes first
    clock.advance(minutes=1)
    worker.tick(app)
    assert [c.params["channel"] for c in slack.calls("conversations.archive")] == [channel]
    assert "slack_channel_archived" in [e["kind"] for e in timeline(api, incident_id)]
    clock.advance(hours=1)
    worker.tick(app)
    assert len(slack.calls("conversations.archive")) == 1


def test_reopening_keeps_the_channel(app, api, hooks, room, slack):
    incident_id, channel = room
    slash(hooks, "resolve", user="ULENA", channel=channel)
    clock.advance(hours=2)
    slash(hooks, "update investigating Not fixed after all", user="ULENA", channel=channel, trigger_id="t.2")
    clock.advance(hours=30)
    worker.tick(app)
    assert slack.calls("conversations.archive") == []
    assert {row[2] for row in deliveries(app, purpose="slack_archive")} == {"cancelled"}
    slash(hooks, "resolve", user="ULENA", channel=channel, trigger_id="t.3")
    clock.advance(hours=24, minutes=2)
    worker.tick(app)    # the last message and the archiving are both due: the archiving waits for the message
    assert slack.calls("conversations.archive") == []
    clock.advance(seconds=10)
    worker.tick(app)
    assert [c.params["channel"] for c in slack.calls("conversations.archive")] == [channel]


def test_archiving_can_be_turned_off(app, api, hooks, room, slack, monkeypatch):
    monkeypatch.setitem(app.config, "SLACK_ARCHIVE_AFTER_HOURS", 0)
    incident_id, channel = room
    slash(hooks, "resolve", user="ULENA", channel=channel)
    clock.advance(days=3)
    worker.tick(app)
    assert slack.calls("conversations.archive") == [] and deliveries(app, purpose="slack_archive") == []


@pytest.mark.parametrize("raw, hours", [(None, 24.0), ("0", 0.0), ("off", 0.0), ("1.5", 1.5)])
def test_archive_setting(raw, hours):
    assert load_settings({"SLACK_ARCHIVE_AFTER_HOURS": raw}).SLACK_ARCHIVE_AFTER_HOURS == hours


def test_a_bad_archive_setting_stops_the_start():
    with pytest.raises(ConfigError, match="SLACK_ARCHIVE_AFTER_HOURS"):
        load_settings({"SLACK_ARCHIVE_AFTER_HOURS": "-1"})


def test_interaction_form_is_still_checked_first(app, hooks, room):
    body = urlencode({"payload": json.dumps({"type": "view_submission", "view": {}})})
    assert hooks.post("/slack/interactions", data=body, headers=slack_headers(body, secret="nope")).status_code == 401


def test_a_pin_in_a_private_incidents_channel_needs_a_member(app, api, hooks, make_user, setup, slack):
    make_user("lena@example.com", role="lead", slack_id="ULENA")
    incident_id = declare(api, title="Credentials leaked", private=True)["id"]
    worker.tick(app)
    with app.app_context():
        channel = db.session.get(Incident, incident_id).slack_channel_id
    event(hooks, event_callback(pin_added(channel)))
    assert notes(api, incident_id) == []
    api.put(f"/api/v1/incidents/{incident_id}/roles/scribe", json={"user": "lena@example.com"})
    event(hooks, event_callback(pin_added(channel), event_id="Ev0PIN0009"))
    assert [n[1] for n in notes(api, incident_id)] == ["Root cause: expired cert"]
