"""Paging by phone call: the call placed through Calls.json, its TwiML, the key pressed, how it ended —
each webhook signed as Twilio signs it, with twilio's own RequestValidator."""
from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from incident import clock, worker
from incident.extensions import db
from incident.outbox.channels.voice import TwilioVoice
from incident.outbox.models import Delivery

from ..conftest import count_rows
from ..helpers import AMY, PUBLIC, declare, escalation, logged_in, post, timeline
from ..stand_ins import TWILIO_SID, TWILIO_TOKEN

BOB = "+393472222222"
OURS = "+15005550006"
TABLES = ("acknowledgements", "timeline_events", "deliveries", "twilio_events")
VOICE_POLICY = {"levels": [
    {"name": "L1", "targets": [{"user": "amy@example.com"}], "ack_timeout_seconds": 900, "channels": ["voice", "sms"]},
    {"name": "L2", "targets": [{"rotation": "support-l2"}], "ack_timeout_seconds": 900,
     "channels": ["slack", "voice", "email"]}], "repeat": 0}


@pytest.fixture
def paged(app, api, setup, hooks, channels):
    """An incident whose escalation called amy (L1: voice, then sms); the call is placed (sandbox)."""
    assert setup.put("/api/v1/escalation-policies/default", json=VOICE_POLICY).status_code == 200
    incident_id = declare(api, title="Login failing", severity="SEV1")["id"]
    assert api.post(f"/api/v1/incidents/{incident_id}/escalate", json={}).status_code == 200
    worker.tick(app)
    return incident_id


def rows(app, incident_id) -> list[tuple]:
    """The incident's pages: (channel, recipient, status, due)."""
    with app.app_context():
        return [tuple(r) for r in db.session.execute(
            select(Delivery.channel, Delivery.recipient, Delivery.status, Delivery.next_attempt_at)
            .where(Delivery.incident_id == incident_id, Delivery.purpose == "page").order_by(Delivery.id))]


def call_row(app, incident_id, recipient=AMY) -> Delivery:
    with app.app_context():
        row = db.session.scalars(select(Delivery).where(Delivery.incident_id == incident_id,
                                                        Delivery.channel == "voice", Delivery.recipient == recipient)).one()
        db.session.expunge(row)
        return row


def call(sid: str, *, to: str = AMY, status: str = "in-progress", **extra) -> dict:
    """The parameters Twilio posts about an outbound call."""
    return {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "CallSid": sid, "CallStatus": status,
            "Direction": "outbound-api", "From": OURS, "To": to, "Caller": OURS, "Called": to, **extra}


def path_of(url: str) -> str:
    """A URL Tocsin gave Twilio, as the test client posts it (the path and the query)."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC
    return f"{parts.path}?{parts.query}"


def twiml(response) -> ET.Element:
    assert response.status_code == 200 and response.content_type.startswith("application/xml")
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response"
    return root


SID = "CA" + "1" * 32


# The call and what it says ----------------------------------------------------------------------

def test_a_voice_level_calls_first_and_holds_the_sms_back(app, paged, channels):
    row = call_row(app, paged)
    assert row.status == "sent" and row.text.startswith(f"This is Tocsin. INC-{paged}, severity 1: Login failing.")
    assert row.headers["Url"] == f"{PUBLIC}/twilio/voice?page={row.id}"
    assert row.headers["StatusCallback"] == f"{PUBLIC}/twilio/voice/status?page={row.id}"
    [(to, message)] = channels["voice"].sent
    assert to == AMY and message.headers["Url"] == row.headers["Url"]
    assert rows(app, paged)[1][:3] == ("sms", AMY, "queued")
    assert rows(app, paged)[1][3] == clock.utcnow() + timedelta(seconds=120)   # VOICE_FALLBACK_SECONDS
    assert not channels["sms"].sent


def test_the_call_goes_through_calls_json_exactly_once(app, api, setup, hooks, channels, twilio_api):
    channels["voice"] = TwilioVoice(TWILIO_SID, TWILIO_TOKEN, from_number=OURS, base_url=twilio_api.base_url)
    assert setup.put("/api/v1/escalation-policies/default", json=VOICE_POLICY).status_code == 200
    incident_id = declare(api)["id"]
    api.post(f"/api/v1/incidents/{incident_id}/escalate", json={})
    worker.tick(app)
    worker.tick(app)

    [placed] = twilio_api.calls
    form = twilio_api.call_form()
    row = call_row(app, incident_id)
    assert (form["To"], form["From"], form["Method"]) == (AMY, OURS, "POST")
    assert form["Url"] == f"{PUBLIC}/twilio/voice?page={row.id}"
    assert form["StatusCallback"] == f"{PUBLIC}/twilio/voice/status?page={row.id}"
    assert placed.url == twilio_api.calls_url
    assert row.status == "sent" and row.provider_id.startswith("CA") and len(row.provider_id) == 34
    assert not twilio_api.requests   # the SMS waits for the call


def test_the_twiml_reads_the_page_and_gathers_one_digit(app, hooks, paged):
    row = call_row(app, paged)
    root = twiml(post(hooks, path_of(row.headers["Url"]), call(SID)))

    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == "1" and gather.get("method") == "POST"
    action = urlsplit(gather.get("action"))
    assert action.path == "/twilio/voice/gather" and parse_qs(action.query) == {"page": [str(row.id)]}
    page, prompt = gather.findall("Say")
    assert page.text == f"This is Tocsin. INC-{paged}, severity 1: Login failing. You are paged at level L1."
    assert prompt.text == "Press 1 to acknowledge. Press any other key to hear this again."
    assert {page.get("language"), prompt.get("language")} == {"en-US"}
    assert [child.tag for child in root] == ["Gather", "Say", "Hangup"]   # no key: goodbye


def test_the_call_speaks_italian_when_that_is_the_default(app, api, setup, hooks, channels, monkeypatch):
    monkeypatch.setitem(app.config, "DEFAULT_LOCALE", "it-IT")
    assert setup.put("/api/v1/escalation-policies/default", json=VOICE_POLICY).status_code == 200
    incident_id = declare(api, title="Accesso non riuscito", severity="SEV2")["id"]
    api.post(f"/api/v1/incidents/{incident_id}/escalate", json={})
    row = call_row(app, incident_id)
    root = twiml(post(hooks, path_of(row.headers["Url"]), call(SID)))

    page, prompt = root.find("Gather").findall("Say")
    assert page.text == f"Qui Tocsin. INC-{incident_id}, gravità 2: Accesso non riuscito. Sei chiamato al livello L1."
    assert prompt.text.startswith("Premi 1 per prendere in carico.") and page.get("language") == "it-IT"


def test_a_staff_members_own_locale_wins_over_the_default(app, api, setup, hooks, channels, monkeypatch, runner):
    monkeypatch.setitem(app.config, "DEFAULT_LOCALE", "it")
    refused = runner.invoke(args=["users", "set-locale", "amy@example.com", "xx-!!"])
    assert refused.exit_code != 0 and "locale" in refused.output
    assert runner.invoke(args=["users", "set-locale", "amy@example.com", "fr-ca"]).exit_code == 0
    assert setup.put("/api/v1/escalation-policies/default", json=VOICE_POLICY).status_code == 200
    incident_id = declare(api)["id"]
    api.post(f"/api/v1/incidents/{incident_id}/escalate", json={})

    row = call_row(app, incident_id)
    assert row.text.startswith(f"Ici Tocsin. INC-{incident_id}")          # fr-CA -> fr, not the default Italian
    page, prompt = twiml(post(hooks, path_of(row.headers["Url"]), call(SID))).find("Gather").findall("Say")
    assert page.get("language") == "fr-FR" and prompt.text.startswith("Appuyez sur 1")


def test_titles_are_escaped_in_the_twiml(app, api, setup, hooks, channels):
    assert setup.put("/api/v1/escalation-policies/default", json=VOICE_POLICY).status_code == 200
    incident_id = declare(api, title="<Hangup/> & </Say><Dial>+1900</Dial>")["id"]
    api.post(f"/api/v1/incidents/{incident_id}/escalate", json={})
    root = twiml(post(hooks, path_of(call_row(app, incident_id).headers["Url"]), call(SID)))

    assert "<Hangup/> & </Say><Dial>+1900</Dial>" in root.find("Gather").find("Say").text
    assert root.find(".//Dial") is None and [child.tag for child in root] == ["Gather", "Say", "Hangup"]


@pytest.mark.parametrize("page", ["99999", "99999999999", "x", "", "-1"])
def test_an_unknown_page_says_goodbye_and_changes_nothing(app, hooks, setup, page):
    before = count_rows(app, *TABLES)
    for path, extra in (("", {}), ("/gather", {"Digits": "1"}), ("/status", {"CallStatus": "busy"})):
        response = post(hooks, f"/twilio/voice{path}?page={page}", {**call(SID), **extra})
        root = twiml(response)
        if path != "/status":
            assert [child.tag for child in root] == ["Say", "Hangup"]
            assert root.find("Say").text == "This page is no longer open. Goodbye."
    assert count_rows(app, "timeline_events", "deliveries", "acknowledgements") == {
        key: before[key] for key in ("timeline_events", "deliveries", "acknowledgements")}


# Keys ---------------------------------------------------------------------------------------------

def test_pressing_1_acknowledges_the_page(app, api, hooks, paged):
    row = call_row(app, paged)
    response = post(hooks, f"/twilio/voice/gather?page={row.id}", call(SID, Digits="1"))

    root = twiml(response)
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root.find("Say").text == f"Acknowledged INC-{paged}. Thank you. Goodbye."
    view = escalation(api, paged)
    assert view["state"] == "acknowledged"
    assert [(a["who"], a["via"], a["outcome"]) for a in view["acknowledgements"]] == [("amy@example.com", "voice", "first")]
    assert [(e["actor"], e["data"]) for e in timeline(api, paged) if e["kind"] == "acknowledged"] == [
        ("amy@example.com", {"via": "voice", "level": "L1"})]
    assert rows(app, paged)[1][:3] == ("sms", AMY, "cancelled")   # the held SMS never goes


def test_a_replayed_key_press_records_nothing(app, api, hooks, paged):
    row = call_row(app, paged)
    params = call(SID, Digits="1")
    post(hooks, f"/twilio/voice/gather?page={row.id}", params)
    before = count_rows(app, *TABLES)

    root = twiml(post(hooks, f"/twilio/voice/gather?page={row.id}", params))
    assert list(root) == []
    assert count_rows(app, *TABLES) == before
    assert [a["outcome"] for a in escalation(api, paged)["acknowledgements"]] == ["first"]


def test_another_key_repeats_the_page_once_then_hangs_up(app, api, hooks, paged):
    row = call_row(app, paged)
    root = twiml(post(hooks, f"/twilio/voice/gather?page={row.id}", call(SID, Digits="7")))
    assert [child.tag for child in root] == ["Say", "Redirect"]
    assert root.find("Say").text == "That key does nothing here."
    again = root.find("Redirect").text
    assert again == f"{PUBLIC}/twilio/voice?page={row.id}&attempt=2" and root.find("Redirect").get("method") == "POST"

    repeated = twiml(post(hooks, path_of(again), call(SID)))
    action = repeated.find("Gather").get("action")
    assert action == f"{PUBLIC}/twilio/voice/gather?page={row.id}&attempt=2"
    last = twiml(post(hooks, path_of(action), call(SID, Digits="9")))
    assert [child.tag for child in last] == ["Say", "Hangup"] and last.find("Say").text == "No key was pressed. Goodbye."
    assert escalation(api, paged)["state"] == "paging"
    assert escalation(api, paged)["acknowledgements"] == []


def test_1_after_a_wrong_key_still_acknowledges(app, api, hooks, paged):
    row = call_row(app, paged)
    post(hooks, f"/twilio/voice/gather?page={row.id}", call(SID, Digits="#"))
    root = twiml(post(hooks, f"/twilio/voice/gather?page={row.id}&attempt=2", call(SID, Digits="1")))
    assert root.find("Say").text.startswith("Acknowledged")
    assert escalation(api, paged)["state"] == "acknowledged"


def test_a_call_answered_after_someone_else_acknowledged_says_so(app, api, api_as, hooks, paged):
    api_as("engineer", "eve@example.com").post(f"/api/v1/incidents/{paged}/acknowledge")
    root = twiml(post(hooks, path_of(call_row(app, paged).headers["Url"]), call(SID)))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root.find("Say").text == f"INC-{paged} has already been acknowledged. Goodbye."


def test_a_staff_member_who_may_not_acknowledge_is_refused_on_the_call(app, api, hooks, paged, monkeypatch):
    from incident.auth.models import User

    with app.app_context():
        db.session.scalars(select(User).where(User.email == "amy@example.com")).one().role = "agent"
        db.session.commit()
    row = call_row(app, paged)
    root = twiml(post(hooks, f"/twilio/voice/gather?page={row.id}", call(SID, Digits="1")))
    assert "cannot acknowledge pages" in root.find("Say").text
    assert [(a["who"], a["via"], a["outcome"]) for a in escalation(api, paged)["acknowledgements"]] == [
        ("amy@example.com", "voice", "refused")]


# How the call ended -------------------------------------------------------------------------------

@pytest.mark.parametrize("outcome", ["busy", "no-answer", "failed", "canceled"])
def test_an_unanswered_call_sends_the_levels_next_channel_at_once(app, api, hooks, paged, channels, outcome):
    row = call_row(app, paged)
    response = post(hooks, path_of(row.headers["StatusCallback"]), call(SID, status=outcome, CallDuration="0"))
    assert response.status_code == 200

    worker.tick(app)   # the clock has not moved: no waiting for the fallback time or the SLA
    assert [to for to, _ in channels["sms"].sent] == [AMY]
    assert channels["sms"].sent[0][1].text.endswith(f"Reply ACK {paged}")
    assert call_row(app, paged).status == "failed" and call_row(app, paged).error == outcome
    [ended] = [e for e in timeline(api, paged) if e["kind"] == "call_ended"]
    assert ended["data"] == {"level": "L1", "to": "amy@example.com", "outcome": outcome, "duration_seconds": 0,
                             "acknowledged": False, "next_channels": ["sms"]}
    assert escalation(api, paged)["level"] == "L1"   # still the same level: the SLA clock runs on


def test_a_call_answered_without_a_1_counts_as_not_acknowledged(app, api, hooks, paged, channels):
    row = call_row(app, paged)
    post(hooks, path_of(row.headers["StatusCallback"]), call(SID, status="completed", CallDuration="41"))
    worker.tick(app)

    assert [to for to, _ in channels["sms"].sent] == [AMY]
    assert call_row(app, paged).status == "delivered"
    [ended] = [e for e in timeline(api, paged) if e["kind"] == "call_ended"]
    assert (ended["data"]["outcome"], ended["data"]["duration_seconds"], ended["data"]["next_channels"]) == (
        "completed", 41, ["sms"])


def test_a_call_acknowledged_then_completed_sends_nothing_more(app, api, hooks, paged, channels):
    row = call_row(app, paged)
    post(hooks, f"/twilio/voice/gather?page={row.id}", call(SID, Digits="1"))
    post(hooks, path_of(row.headers["StatusCallback"]), call(SID, status="completed", CallDuration="20"))
    worker.tick(app)

    assert not channels["sms"].sent
    [ended] = [e for e in timeline(api, paged) if e["kind"] == "call_ended"]
    assert ended["data"]["acknowledged"] is True and ended["data"]["next_channels"] == []


def test_a_repeated_status_callback_changes_nothing_twice(app, api, hooks, paged, channels, caplog):
    caplog.set_level(logging.INFO, logger="incident.integrations.twilio_voice")
    row = call_row(app, paged)
    params = call(SID, status="no-answer", CallDuration="0")
    post(hooks, path_of(row.headers["StatusCallback"]), params)
    worker.tick(app)
    before = count_rows(app, *TABLES)

    assert post(hooks, path_of(row.headers["StatusCallback"]), params).status_code == 200
    worker.tick(app)
    assert count_rows(app, *TABLES) == before
    assert len(channels["sms"].sent) == 1
    assert [e["kind"] for e in timeline(api, paged)].count("call_ended") == 1
    assert f"twilio call status {SID} no-answer seen before: ignored" in caplog.text


def test_in_between_statuses_change_nothing(app, api, hooks, paged, channels):
    row = call_row(app, paged)
    for status in ("initiated", "ringing", "in-progress"):
        assert post(hooks, path_of(row.headers["StatusCallback"]), call(SID, status=status)).status_code == 200
    worker.tick(app)
    assert not channels["sms"].sent
    assert "call_ended" not in [e["kind"] for e in timeline(api, paged)]
    assert call_row(app, paged).status == "sent"


def test_without_any_callback_the_sms_goes_after_the_fallback_time(app, paged, channels):
    clock.advance(seconds=119)
    worker.tick(app)
    assert not channels["sms"].sent
    clock.advance(seconds=1)
    worker.tick(app)
    assert [to for to, _ in channels["sms"].sent] == [AMY]


def test_a_busy_call_at_l2_moves_on_to_email_while_slack_went_at_once(app, api, hooks, paged, channels):
    clock.advance(seconds=900)   # L1 breaches: L2 (bob) on slack and voice now, email held for the call
    worker.tick(app)
    assert [to for to, _ in channels["slack"].sent] == ["UBOB"]
    assert not channels["email"].sent
    row = call_row(app, paged, BOB)
    post(hooks, path_of(row.headers["StatusCallback"]), call("CA" + "2" * 32, to=BOB, status="busy"))
    worker.tick(app)
    assert [to for to, _ in channels["email"].sent] == ["bob@example.com"]
    assert [e["data"]["level"] for e in timeline(api, paged) if e["kind"] == "call_ended"] == ["L2"]


def test_someone_without_a_phone_gets_the_held_channels_at_once(app, api, setup, hooks, channels, make_user):
    make_user("nora@example.com", role="engineer", slack_id="UNORA")
    policy = {"levels": [{"name": "L1", "targets": [{"user": "nora@example.com"}], "ack_timeout_seconds": 900,
                          "channels": ["voice", "slack"]}]}
    assert setup.put("/api/v1/escalation-policies/default", json=policy).status_code == 200
    incident_id = declare(api)["id"]
    api.post(f"/api/v1/incidents/{incident_id}/escalate", json={})
    worker.tick(app)
    assert [r[:3] for r in rows(app, incident_id)] == [("slack", "UNORA", "sent")]
    assert not channels["voice"].sent


# Signatures and logs ------------------------------------------------------------------------------

@pytest.mark.parametrize("path, extra", [("/twilio/voice", {}), ("/twilio/voice/gather", {"Digits": "1"}),
                                         ("/twilio/voice/status", {"CallStatus": "busy"})])
def test_bad_or_missing_signatures_are_refused_and_change_nothing(app, api, hooks, paged, path, extra):
    row = call_row(app, paged)
    target = f"{path}?page={row.id}"
    params = {**call(SID), **extra}
    before = count_rows(app, *TABLES)
    wrong_token = post(hooks, target, params, token="not-the-token")
    wrong_url = post(hooks, target, params, url=f"{PUBLIC}{path}?page={row.id + 1}")   # another page's URL
    missing = hooks.post(target, data=params)
    for response in (wrong_token, wrong_url, missing):
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "invalid_signature"
    assert count_rows(app, *TABLES) == before
    assert escalation(api, paged)["state"] == "paging"


def test_phone_numbers_never_reach_the_logs(app, api, hooks, paged, channels, caplog):
    caplog.set_level(logging.DEBUG)
    row = call_row(app, paged)
    post(hooks, path_of(row.headers["Url"]), call(SID))
    post(hooks, f"/twilio/voice/gather?page={row.id}", call(SID, Digits="1"))
    post(hooks, path_of(row.headers["StatusCallback"]), call(SID, status="completed", CallDuration="12"))
    worker.tick(app)

    assert "call acknowledgement of" in caplog.text and f"call {SID} ended: completed" in caplog.text
    assert all("3471111111" not in r.getMessage() and OURS not in r.getMessage() for r in caplog.records)


def test_the_incident_page_tells_how_the_call_ended(app, client, make_user, hooks, paged):
    row = call_row(app, paged)
    post(hooks, path_of(row.headers["StatusCallback"]), call(SID, status="no-answer", CallDuration="0"))
    page = logged_in(client, make_user, role="viewer", email="vera@example.com").get(f"/incidents/{paged}")
    assert page.status_code == 200
    assert "call to amy@example.com (L1): no answer; not acknowledged, now paged on sms" in page.get_data(as_text=True)
