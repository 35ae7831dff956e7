"""Slack webhooks: the page's Acknowledge button and /incident, signed as Slack signs them."""
from __future__ import annotations

import json
import threading
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from incident import clock, worker
from incident.integrations import AckResult, parse_incident_ref
from incident.integrations.slack import (
    ALREADY_HANDLED,
    NEEDS_LEAD,
    NOT_STAFF,
    NOT_STAFF_ACK,
    Command,
    ack_text,
    parse_command,
    parse_interaction,
)

from ..conftest import count_rows
from ..helpers import PUBLIC, TWILIO_TOKEN, declare, deliveries, escalation, timeline
from .slack_helpers import block_actions, click, slack_headers, slash

TABLES = ("acknowledgements", "timeline_events", "slack_events", "incidents", "deliveries")






def ack_button(incident_id: int) -> dict:
    return {"action_id": "acknowledge", "block_id": f"page-{incident_id}", "value": str(incident_id),
            "style": "primary", "type": "button", "text": {"type": "plain_text", "text": "Acknowledge", "emoji": True}}


def paged(api, app) -> int:
    """An incident whose L1 (amy) has been paged and the page sent to Slack."""
    incident_id = declare(api, title="Login failing for EU customers", severity="SEV1")["id"]
    assert api.post(f"/api/v1/incidents/{incident_id}/escalate", json={}).status_code == 200
    worker.tick(app)
    return incident_id


def thanks(incident_id: int) -> str:
    return f"You acknowledged INC-{incident_id}. The escalation has stopped; thank you."






# The button --------------------------------------------------------------------------------

def test_the_page_button_acknowledges_and_the_page_edit_is_queued(app, api, hooks, setup, channels):
    incident_id = paged(api, app)
    to, page = channels["slack"].sent[0]
    button = page.blocks[-1]["elements"][0]
    assert (to, button["action_id"]) == ("UAMY", "acknowledge")

    response = click(hooks, block_actions(button, blocks=page.blocks))
    assert response.status_code == 200
    assert response.get_json() == {"response_type": "ephemeral", "text": thanks(incident_id)}
    acknowledged = [e for e in timeline(api, incident_id) if e["kind"] == "acknowledged"]
    assert [(e["actor"], e["data"]["via"], e["data"]["level"]) for e in acknowledged] == [
        ("amy@example.com", "slack", "L1")]
    view = escalation(api, incident_id)
    assert view["state"] == "acknowledged" and view["next_deadline_at"] is None
    assert deliveries(app, purpose="page_update")[0][:3] == ("slack", "UAMY", "queued")
    assert len(channels["slack"].updated) == 0  # the request never calls Slack; the worker edits the page

    worker.tick(app)
    assert "Acknowledged by amy@example.com" in channels["slack"].updated[0][1].text


def test_an_sms_ack_after_the_slack_one_is_a_duplicate(app, api, hooks, setup, channels):
    incident_id = paged(api, app)
    assert click(hooks, block_actions(ack_button(incident_id))).status_code == 200
    params = {"From": "+393471111111", "To": "+15005550006", "Body": f"ACK {incident_id}",
              "MessageSid": "SM" + "a" * 32, "AccountSid": "AC" + "b" * 32, "NumMedia": "0"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{PUBLIC}/twilio/sms", params)
    response = hooks.post("/twilio/sms", data=params, headers={"X-Twilio-Signature": signature})
    assert f"INC-{incident_id} was already acknowledged" in response.get_data(as_text=True)
    assert [(a["via"], a["outcome"]) for a in escalation(api, incident_id)["acknowledgements"]] == [
        ("slack", "first"), ("sms", "duplicate")]
    assert [e["kind"] for e in timeline(api, incident_id)].count("acknowledged") == 1


def test_a_retried_delivery_changes_nothing(app, api, hooks, setup, channels):
    incident_id = paged(api, app)
    payload = block_actions(ack_button(incident_id))
    assert click(hooks, payload).status_code == 200
    before = count_rows(app, *TABLES)
    clock.advance(seconds=4)  # Slack retries after three seconds without an answer
    again = click(hooks, payload, retry=1)
    assert again.status_code == 200 and again.get_json()["text"] == ALREADY_HANDLED
    assert count_rows(app, *TABLES) == before
    assert len(escalation(api, incident_id)["acknowledgements"]) == 1


def test_two_deliveries_at_once_acknowledge_once(app, api, hooks_app, hooks, setup, channels):
    incident_id = paged(api, app)
    body = urlencode({"payload": json.dumps(block_actions(ack_button(incident_id)))})
    headers = slack_headers(body)
    barrier, answers = threading.Barrier(2), []

    def deliver(retry: bool):
        client = hooks_app.test_client()
        barrier.wait()
        answers.append(client.post("/slack/interactions", data=body,
                                   headers={**headers, **({"X-Slack-Retry-Num": "1"} if retry else {})}))

    threads = [threading.Thread(target=deliver, args=(retry,)) for retry in (False, True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 200]
    assert sorted(a.get_json()["text"] for a in answers) == sorted([thanks(incident_id), ALREADY_HANDLED])
    assert [a["outcome"] for a in escalation(api, incident_id)["acknowledgements"]] == ["first"]
    assert count_rows(app, "slack_events")["slack_events"] == 1


def test_another_click_is_another_acknowledgement(app, api, hooks, setup, channels):
    incident_id = paged(api, app)
    click(hooks, block_actions(ack_button(incident_id), trigger_id="1.2.first"))
    second = click(hooks, block_actions(ack_button(incident_id), user="UBOB", trigger_id="1.2.second"))
    assert second.get_json()["text"] == f"INC-{incident_id} was already acknowledged; yours is noted too."
    assert [(a["who"], a["outcome"]) for a in escalation(api, incident_id)["acknowledgements"]] == [
        ("amy@example.com", "first"), ("bob@example.com", "duplicate")]


def test_an_unknown_slack_user_is_refused_and_recorded(app, api, hooks, setup, channels):
    incident_id = paged(api, app)
    response = click(hooks, block_actions(ack_button(incident_id), user="USTRANGER"))
    assert response.status_code == 200 and response.get_json()["text"] == NOT_STAFF_ACK
    view = escalation(api, incident_id)
    assert view["state"] == "paging"
    assert [(a["who"], a["via"], a["outcome"]) for a in view["acknowledgements"]] == [("USTRANGER", "slack", "refused")]
    assert "acknowledged" not in [e["kind"] for e in timeline(api, incident_id)]


def test_an_agent_is_refused_and_recorded(app, api, hooks, make_user, setup, channels):
    make_user("agnes@example.com", role="agent", slack_id="UAGNES")
    incident_id = paged(api, app)
    response = click(hooks, block_actions(ack_button(incident_id), user="UAGNES"))
    assert response.get_json()["text"].startswith("Your Tocsin role (agent) cannot acknowledge pages")
    view = escalation(api, incident_id)
    assert view["state"] == "paging"
    assert [(a["who"], a["outcome"]) for a in view["acknowledgements"]] == [("agnes@example.com", "refused")]


def test_other_buttons_record_nothing(app, api, hooks, setup, channels):
    incident_id = paged(api, app)
    before = count_rows(app, *TABLES)
    link = {"action_id": "open_incident", "block_id": f"page-{incident_id}", "type": "button",
            "url": f"http://tocsin.test/incidents/{incident_id}", "text": {"type": "plain_text", "text": "Open"}}
    assert click(hooks, block_actions(link)).status_code == 200
    assert count_rows(app, *TABLES) == before


def test_a_button_for_an_unknown_incident_is_answered_politely(app, hooks, setup):
    response = click(hooks, block_actions(ack_button(9999)))
    assert response.status_code == 200
    assert response.get_json()["text"] == "Tocsin has no incident INC-9999."


# Signatures ----------------------------------------------------------------------------------

def _tamper(kind: str, body: str) -> tuple[str, dict]:
    headers = slack_headers(body)
    if kind == "wrong secret":
        headers = slack_headers(body, secret="not-the-secret")
    elif kind == "no headers":
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    elif kind == "no signature":
        del headers["X-Slack-Signature"]
    elif kind == "timestamp not a number":
        headers["X-Slack-Request-Timestamp"] = "yesterday"
    elif kind == "body changed":
        body = body.replace("UAMY", "UBOB")
    elif kind == "stale":
        clock.advance(minutes=6)
    elif kind == "from the future":
        headers = slack_headers(body, timestamp=int(clock.utcnow().timestamp()) + 360)
    return body, headers


@pytest.mark.parametrize("kind", ["wrong secret", "no headers", "no signature", "timestamp not a number",
                                  "body changed", "stale", "from the future"])
@pytest.mark.parametrize("path", ["/slack/interactions", "/slack/commands"])
def test_unsigned_or_stale_requests_are_refused_and_change_nothing(app, api, hooks, setup, channels, kind, path):
    incident_id = paged(api, app)
    if path == "/slack/interactions":
        body = urlencode({"payload": json.dumps(block_actions(ack_button(incident_id)))})
    else:
        body = urlencode({"command": "/incident", "text": f"ack INC-{incident_id}", "user_id": "UAMY",
                          "trigger_id": "1.2.3"})
    before = count_rows(app, *TABLES)
    body, headers = _tamper(kind, body)
    response = hooks.post(path, data=body, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert count_rows(app, *TABLES) == before
    assert escalation(api, incident_id)["state"] == "paging"


def test_slack_not_configured_answers_401(app, hooks, hooks_app, monkeypatch, frozen):
    monkeypatch.setitem(hooks_app.config, "SLACK_SIGNING_SECRET", "")
    body = urlencode({"command": "/incident", "text": "help", "user_id": "UAMY"})
    response = hooks.post("/slack/commands", data=body, headers=slack_headers(body))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "slack_not_configured"


def test_a_signed_request_inside_the_window_passes(hooks, frozen):
    body = urlencode({"command": "/incident", "text": "help", "user_id": "UAMY"})
    headers = slack_headers(body)
    clock.advance(minutes=4, seconds=59)
    assert hooks.post("/slack/commands", data=body, headers=headers).status_code == 200


# Slash commands ------------------------------------------------------------------------------

@pytest.mark.parametrize("written", ["ack INC-{id}", "ack {id}", "ACK inc-{id}", "acknowledge #{id}"])
def test_slash_ack(app, api, hooks, setup, channels, written):
    incident_id = paged(api, app)
    response = slash(hooks, written.format(id=incident_id))
    assert response.get_json() == {"response_type": "ephemeral", "text": thanks(incident_id)}
    assert escalation(api, incident_id)["acknowledgements"][0]["via"] == "slack"


def test_a_retried_slash_ack_changes_nothing(app, api, hooks, setup, channels):
    incident_id = paged(api, app)
    slash(hooks, f"ack {incident_id}")
    before = count_rows(app, *TABLES)
    assert slash(hooks, f"ack {incident_id}", retry=1).get_json()["text"] == ALREADY_HANDLED
    assert count_rows(app, *TABLES) == before


def test_slash_ack_from_a_stranger_is_refused_and_recorded(app, api, hooks, setup, channels):
    incident_id = paged(api, app)
    assert slash(hooks, f"ack {incident_id}", user="USTRANGER").get_json()["text"] == NOT_STAFF_ACK
    assert escalation(api, incident_id)["acknowledgements"][0]["outcome"] == "refused"


def test_slash_status(app, api, hooks, setup, channels):
    incident_id = paged(api, app)
    text = slash(hooks, f"status INC-{incident_id}").get_json()["text"]
    assert f"<{PUBLIC}/incidents/{incident_id}|INC-{incident_id}>" in text
    assert "SEV1: Login failing for EU customers" in text
    assert "Status: investigating" in text
    assert "Commander: lead@example.com" in text
    assert "Escalation: level L1, next deadline <!date^" in text and "|2026-11-22 10:00 UTC>" in text
    slash(hooks, f"ack {incident_id}", trigger_id="another.trigger")
    assert "Escalation: acknowledged at level L1" in slash(hooks, f"status {incident_id}").get_json()["text"]


def test_slash_status_of_a_quiet_incident_and_of_none(api, hooks, setup):
    incident_id = declare(api, title="Billing <slow> & odd")["id"]
    text = slash(hooks, f"status {incident_id}").get_json()["text"]
    assert "Billing &lt;slow&gt; &amp; odd" in text and "Escalation: not started" in text
    assert slash(hooks, "status INC-9999").get_json() == {"response_type": "ephemeral",
                                                          "text": "Tocsin has no incident INC-9999."}


def test_slash_status_is_for_staff_only(api, hooks, setup):
    incident_id = declare(api)["id"]
    assert slash(hooks, f"status {incident_id}", user="USTRANGER").get_json()["text"] == NOT_STAFF


def test_slash_declare(app, api, hooks, make_user, setup):
    make_user("lena@example.com", role="lead", name="Lena", slack_id="ULENA")
    response = slash(hooks, "declare SEV1 Checkout &amp; payments down", user="ULENA")
    body = response.get_json()
    incident = api.get("/api/v1/incidents").get_json()["items"][0]
    assert (incident["title"], incident["severity"], incident["declared_by"]) == (
        "Checkout & payments down", "SEV1", "lena@example.com")
    assert incident["roles"]["commander"] == "lena@example.com"
    assert body == {"response_type": "in_channel",
                    "text": f"SEV1 *<{PUBLIC}/incidents/{incident['id']}|INC-{incident['id']}>* declared by Lena: "
                            "Checkout &amp; payments down"}
    slash(hooks, "declare Search is slow", user="ULENA", trigger_id="another.trigger")
    assert api.get("/api/v1/incidents").get_json()["items"][0]["severity"] == "SEV2"


def test_a_retried_slash_declare_declares_once(app, hooks, make_user, setup):
    make_user("lena@example.com", role="lead", slack_id="ULENA")
    slash(hooks, "declare SEV1 Checkout down", user="ULENA")
    assert slash(hooks, "declare SEV1 Checkout down", user="ULENA", retry=1).get_json()["text"] == ALREADY_HANDLED
    assert count_rows(app, "incidents")["incidents"] == 1


def test_slash_declare_needs_a_lead(app, hooks, setup):
    assert slash(hooks, "declare SEV1 Checkout down", user="UAMY").get_json()["text"] == NEEDS_LEAD
    assert slash(hooks, "declare SEV1 Checkout down", user="USTRANGER").get_json()["text"] == NOT_STAFF
    assert count_rows(app, "incidents")["incidents"] == 0


@pytest.mark.parametrize("text, first_line", [
    ("help", "*Tocsin* — `/incident` commands (in an incident's channel, leave out `INC-42`):"),
    ("reboot the world", "Tocsin did not understand that."),
    ("declare SEV1", "Give the incident a title, e.g. `declare SEV1 Login failing in the EU`."),
])
def test_slash_help_and_usage(app, hooks, frozen, text, first_line):
    body = slash(hooks, text, user="USTRANGER").get_json()
    assert body["response_type"] == "ephemeral"
    assert body["text"].splitlines()[0] == first_line
    assert "`/incident declare [SEV1-SEV4] <title>`" in body["text"]
    assert count_rows(app, "slack_events")["slack_events"] == 0


def test_slash_ack_without_an_incident_outside_its_channel(app, hooks, setup):
    body = slash(hooks, "ack", user="UAMY").get_json()
    assert body["text"].startswith("Which incident? Name it (`ack INC-42`)")
    assert count_rows(app, "slack_events", "acknowledgements") == {"slack_events": 0, "acknowledgements": 0}


# Parsing (pure) ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("42", 42), ("INC-42", 42), ("inc-42", 42), ("#42", 42), ("INC 42", 42), (" INC42 ", 42),
    ("", None), ("INC-", None), ("forty-two", None), ("42x", None), ("INC--42", None), ("1234567890", None)])
def test_parse_incident_ref(text, expected):
    assert parse_incident_ref(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("ack INC-42", Command("ack", 42)),
    ("  Acknowledge   42 ", Command("ack", 42)),
    ("status inc-7", Command("status", 7)),
    ("declare Login failing", Command("declare", title="Login failing", severity="SEV2")),
    ("declare sev1   Login\tfailing ", Command("declare", title="Login failing", severity="SEV1")),
    ("declare SEV9 Login failing", Command("declare", title="SEV9 Login failing", severity="SEV2")),
    ("declare a &lt;b&gt; &amp;amp; c", Command("declare", title="a <b> &amp; c")),
    ("help", Command("help")),
    ("", Command("declare", modal=True)),
    ("status", Command("status")),
])
def test_parse_command(text, expected):
    assert parse_command(text) == expected


def test_parse_command_problems():
    assert parse_command("status x").problem.startswith("Which incident?")
    assert parse_command("declare " + "x" * 201).problem == "Keep the title to 200 characters."
    assert parse_command("dance").verb == "help"


def test_parse_interaction():
    wanted = parse_interaction(block_actions(ack_button(42), trigger_id="T.1"))
    assert (wanted.slack_user, wanted.incident_id, wanted.key) == ("UAMY", 42, "interaction:T.1")
    without_trigger = {k: v for k, v in block_actions(ack_button(42)).items() if k != "trigger_id"}
    assert parse_interaction(without_trigger).key == "interaction:UAMY:1795000012.345678"
    assert parse_interaction(block_actions({"action_id": "open_incident", "type": "button"})) is None
    assert parse_interaction({"type": "view_submission"}) is None
    assert parse_interaction({"type": "block_actions", "actions": "nonsense"}) is None
    assert parse_interaction(block_actions({**ack_button(1), "value": "drop table"})).incident_id is None


def test_ack_text_for_every_outcome():
    assert ack_text(AckResult("not_allowed", "INC-1", "viewer")).startswith("Your Tocsin role (viewer)")
    assert {ack_text(AckResult(o, "INC-1")) for o in ("first", "duplicate", "not_found", "unknown_sender")}


def test_malformed_payload_is_a_400(hooks, frozen):
    body = urlencode({"payload": "{not json"})
    response = hooks.post("/slack/interactions", data=body, headers=slack_headers(body))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request"


def test_a_deeply_nested_payload_is_a_400(app, hooks, frozen):
    before = count_rows(app, *TABLES)
    body = urlencode({"payload": "[" * 5000 + "]" * 5000})
    response = hooks.post("/slack/interactions", data=body, headers=slack_headers(body))
    assert response.status_code == 400
    assert response.get_json()["error"] == {"code": "bad_request", "details": {},
                                            "message": "The interaction payload is nested too deeply."}
    assert count_rows(app, *TABLES) == before
