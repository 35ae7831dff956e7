"""Running an incident from Slack: `/incident` commands and forms, signed as Slack signs them, against
the loopback Slack Web API (views.open, chat.postMessage) through the outbox and the worker."""
from __future__ import annotations

import logging

import pytest

from incident import worker
from incident.extensions import db
from incident.incidents.models import Incident
from incident.integrations.slack_commands import parse_command

from ..conftest import count_rows
from ..helpers import PUBLIC, declare, deliveries, escalation, timeline
from .slack_helpers import chosen, click, params, slash, typed, view_submission

TABLES = ("incidents", "incident_updates", "timeline_events", "role_assignments", "deliveries", "slack_events")


@pytest.fixture
def staff(make_user, setup):
    """A lead, an agent and a viewer with Slack ids, beside setup's engineers (amy, bob, dan)."""
    make_user("lena@example.com", role="lead", name="Lena", slack_id="ULENA")
    make_user("agnes@example.com", role="agent", slack_id="UAGNES")
    make_user("vic@example.com", role="viewer", slack_id="UVIC")


@pytest.fixture
def room(app, api, staff, slack):
    """A SEV1 incident whose own Slack channel the worker has opened: (incident id, channel id)."""
    incident_id = declare(api, title="Login failing for EU customers")["id"]
    worker.tick(app)
    with app.app_context():
        channel = db.session.get(Incident, incident_id).slack_channel_id
    assert channel and channel.startswith("C")
    return incident_id, channel


def kinds(api, incident_id) -> list[str]:
    return [e["kind"] for e in timeline(api, incident_id)]


# Declaring -------------------------------------------------------------------------------------

def test_incident_alone_opens_the_declare_form_through_the_worker(app, hooks, staff, slack):
    response = slash(hooks, "", user="ULENA", trigger_id="1795.1.form")
    assert response.status_code == 200 and response.get_data() == b""
    assert deliveries(app, purpose="slack_view") == [("slack", "1795.1.form", "queued", "slack_view")]
    assert slack.calls("views.open") == []          # the request never calls Slack
    worker.tick(app)
    call = params(slack.calls("views.open")[0])
    assert call["trigger_id"] == "1795.1.form"
    view = call["view"]
    assert view["callback_id"] == "tocsin_declare" and view["type"] == "modal"
    assert [b["block_id"] for b in view["blocks"]] == ["title", "severity", "services", "summary"]
    assert view["blocks"][1]["element"]["initial_option"]["value"] == "SEV2"
    assert deliveries(app, purpose="slack_view")[0][2] == "sent"
    assert slash(hooks, "declare", user="ULENA", trigger_id="1795.2.form").get_data() == b""
    assert slash(hooks, "declare", user="ULENA", trigger_id="1795.2.form", retry=1).get_data() == b""
    assert len(deliveries(app, purpose="slack_view")) == 2    # a retried command opens no second form


def declare_form(values: dict, **kwargs) -> dict:
    from incident.integrations.slack_views import declare_view
    return view_submission(declare_view(channel_id="C0INCIDENTS"), values, **kwargs)


GOOD = {"title": typed("Checkout failing"), "severity": chosen("SEV1"), "services": typed("checkout, payments"),
        "summary": typed("5xx on /pay since 09:12 <b>")}


def test_the_declare_form_declares(app, api, hooks, staff):
    response = click(hooks, declare_form(GOOD))
    body = response.get_json()
    incident = api.get("/api/v1/incidents").get_json()["items"][0]
    assert (incident["title"], incident["severity"], incident["services"], incident["declared_by"]) == (
        "Checkout failing", "SEV1", ["checkout", "payments"], "lena@example.com")
    assert incident["roles"]["commander"] == "lena@example.com"
    assert api.get(f"/api/v1/incidents/{incident['id']}").get_json()["summary"] == "5xx on /pay since 09:12 <b>"
    assert body["response_action"] == "update"
    assert f"<{PUBLIC}/incidents/{incident['id']}|INC-{incident['id']}>" in body["view"]["blocks"][0]["text"]["text"]
    before = count_rows(app, *TABLES)
    again = click(hooks, declare_form(GOOD), retry=1).get_json()   # Slack retries a slow answer
    assert "already received" in again["view"]["blocks"][0]["text"]["text"]
    assert count_rows(app, *TABLES) == before


@pytest.mark.parametrize("values, block", [
    ({**GOOD, "title": typed("   ")}, "title"),
    ({**GOOD, "services": typed("log in!")}, "services"),
    ({**GOOD, "severity": chosen("SEV9")}, "severity"),
])
def test_a_bad_declare_form_says_which_field_and_writes_nothing(app, hooks, staff, values, block):
    before = count_rows(app, *TABLES)
    body = click(hooks, declare_form(values)).get_json()
    assert body["response_action"] == "errors" and list(body["errors"]) == [block]
    assert count_rows(app, *TABLES) == before


@pytest.mark.parametrize("user, says", [("UAMY", "needs the lead permission"), ("USTRANGER", "not on Tocsin's staff")])
def test_the_declare_form_from_someone_who_may_not_declare(app, hooks, staff, user, says, caplog):
    caplog.set_level(logging.WARNING, "incident.integrations")
    before = count_rows(app, *TABLES)
    body = click(hooks, declare_form(GOOD, user=user)).get_json()
    assert body["response_action"] == "update" and says in body["view"]["blocks"][0]["text"]["text"]
    assert count_rows(app, *TABLES) == before
    assert any("declare refused for " + user in r.getMessage() for r in caplog.records)


# Commands in the incident's channel and elsewhere ------------------------------------------------

def test_update_in_the_incidents_channel(app, api, hooks, room, slack):
    incident_id, channel = room
    reply = slash(hooks, "update identified Bad deploy &amp; rollback", user="ULENA", channel=channel).get_json()
    assert reply == {"response_type": "ephemeral", "text": f"Posted a public update on INC-{incident_id}: status "
                                                          "identified — Bad deploy &amp; rollback."}
    updates = api.get(f"/api/v1/incidents/{incident_id}/updates").get_json()["items"]
    assert [(u["status"], u["message"], u["public"], u["author"]) for u in updates] == [
        ("identified", "Bad deploy & rollback", True, "lena@example.com")]
    worker.tick(app)   # the room hears of it through the outbox, like any update
    posts = [c.params for c in slack.calls("chat.postMessage") if c.params.get("channel") == channel]
    assert "is identified* — Bad deploy & rollback" in posts[-1]["text"]


@pytest.mark.parametrize("text", ["update internal monitoring Fix deployed", "update monitoring Fix deployed --internal",
                                  "update --internal monitoring Fix deployed"])
def test_an_internal_update(api, hooks, room, text):
    incident_id, channel = room
    reply = slash(hooks, text, user="ULENA", channel=channel).get_json()
    assert reply["text"].startswith(f"Posted an internal update on INC-{incident_id}: status monitoring")
    update = api.get(f"/api/v1/incidents/{incident_id}/updates").get_json()["items"][0]
    assert (update["status"], update["message"], update["public"]) == ("monitoring", "Fix deployed", False)


def test_commands_name_the_incident_elsewhere(api, hooks, staff):
    incident_id = declare(api, severity="SEV3")["id"]
    assert slash(hooks, "note Rolled back", user="ULENA").get_json()["text"].startswith("Which incident?")
    reply = slash(hooks, f"note INC-{incident_id} Rolled back 4.2.1", user="ULENA", trigger_id="t.2").get_json()
    assert reply["text"] == f"Noted on INC-{incident_id}'s timeline."
    note = [e for e in timeline(api, incident_id) if e["kind"] == "note"][0]
    assert (note["actor"], note["data"]["text"]) == ("lena@example.com", "Rolled back 4.2.1")
    assert slash(hooks, "note INC-9999 hello", user="ULENA", trigger_id="t.3").get_json()["text"] == (
        "Tocsin has no incident INC-9999.")
    assert "Status: investigating" in slash(hooks, f"status #{incident_id}", user="UVIC").get_json()["text"]


def test_role_hands_out_a_crisis_role_and_the_holder_gets_the_checklist(app, api, hooks, room, slack):
    incident_id, channel = room
    reply = slash(hooks, "role tech-lead <@UBOB|bob>", user="ULENA", channel=channel).get_json()
    assert reply["text"] == (f"bob@example.com is now Technical lead on INC-{incident_id}; "
                             "their checklist is on its way to them.")
    roles = api.get(f"/api/v1/incidents/{incident_id}/roles").get_json()["current"]
    assert roles["technical_lead"] == "bob@example.com"
    worker.tick(app)
    dms = [params(c) for c in slack.calls("chat.postMessage") if c.params.get("channel") == "UBOB"]
    assert dms and "Technical lead" in dms[0]["blocks"][0]["text"]["text"]
    boxes = [b for b in dms[0]["blocks"] if b.get("accessory", {}).get("type") == "checkboxes"]
    assert boxes and all(b["accessory"]["action_id"] == "checklist_tick" for b in boxes)
    again = slash(hooks, "role technical_lead <@UBOB>", user="ULENA", channel=channel, trigger_id="t.2").get_json()
    assert again["text"] == f"bob@example.com is Technical lead on INC-{incident_id} already."
    stranger = slash(hooks, "role scribe <@UNOBODY|zed>", user="ULENA", channel=channel, trigger_id="t.3").get_json()
    assert stranger["text"].startswith("<@UNOBODY> is not on Tocsin's staff")
    assert "scribe" not in api.get(f"/api/v1/incidents/{incident_id}/roles").get_json()["current"]


def test_resolve_points_to_the_review(api, hooks, room):
    incident_id, channel = room
    reply = slash(hooks, "resolve Rolled back; all green", user="ULENA", channel=channel).get_json()
    assert reply["text"] == (f"Resolved INC-{incident_id}. The post-incident review: "
                             f"<{PUBLIC}/incidents/{incident_id}/review|INC-{incident_id} review>.")
    incident = api.get(f"/api/v1/incidents/{incident_id}").get_json()
    assert incident["status"] == "resolved"
    assert api.get(f"/api/v1/incidents/{incident_id}/review").status_code == 200   # SEV1: a review opened
    later = slash(hooks, "resolve", user="ULENA", channel=channel, trigger_id="t.2").get_json()
    assert later["text"] == f"INC-{incident_id} is resolved already."


def test_escalate_next_a_named_level_and_swarm(app, api, hooks, staff):
    first = declare(api, severity="SEV3")["id"]
    reply = slash(hooks, f"escalate INC-{first} customers waiting", user="UAMY").get_json()
    assert reply["text"] == f"Escalated INC-{first}: paging level L1."
    assert [e["data"]["reason"] for e in timeline(api, first) if e["kind"] == "escalated"] == ["customers waiting"]
    reply = slash(hooks, f"escalate INC-{first} engineering db is down", user="UAMY", trigger_id="t.2").get_json()
    assert reply["text"] == f"Escalated INC-{first}: paging level engineering."
    assert [e["data"]["reason"] for e in timeline(api, first) if e["kind"] == "escalated"][-1] == "db is down"

    second = declare(api, severity="SEV3")["id"]
    reply = slash(hooks, f"escalate INC-{second} swarm all hands", user="UAMY", trigger_id="t.3").get_json()
    assert reply["text"] == f"Escalated INC-{second}: paging every level at once (swarm)."
    view = escalation(api, second)
    assert view["mode"] == "swarm" and {s["level"] for s in view["steps"]} == {"L1", "L2", "engineering"}


def test_page_one_person(app, api, hooks, room, slack):
    incident_id, channel = room
    reply = slash(hooks, "page <@UDAN|dan> db replica lagging", user="UAMY", channel=channel).get_json()
    assert reply["text"] == f"Paging dan@example.com for INC-{incident_id} (2 pages)."
    paged = [e for e in timeline(api, incident_id) if e["kind"] == "paged"][-1]
    assert (paged["actor"], paged["data"]["recipients"], paged["data"]["reason"]) == (
        "amy@example.com", ["dan@example.com"], "db replica lagging")
    worker.tick(app)
    page = [params(c) for c in slack.calls("chat.postMessage") if c.params.get("channel") == "UDAN"][0]
    assert page["blocks"][-1]["elements"][0]["action_id"] == "acknowledge"
    assert app.extensions["tocsin_channels"]["sms"].messages_to("+393473333333")


# Permissions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("user, text, answer", [
    ("UAMY", "update identified x", "Posting a status update needs the lead permission in Tocsin; you are engineer."),
    ("UAMY", "resolve", "Resolving needs the lead permission in Tocsin; you are engineer."),
    ("UAMY", "role scribe <@UBOB>", "Assigning crisis roles needs the lead permission in Tocsin; you are engineer."),
    ("UVIC", "note hello", "Adding a note needs the agent permission in Tocsin; you are viewer."),
    ("UAGNES", "escalate", "Escalating needs the engineer permission in Tocsin; you are agent."),
    ("UAGNES", "page <@UBOB>", "Paging someone needs the engineer permission in Tocsin; you are agent."),
    ("USTRANGER", "note hello", "You are not on Tocsin's staff, so Tocsin cannot do that for you."),
    ("USTRANGER", "status", "You are not on Tocsin's staff, so Tocsin cannot do that for you."),
    ("USTRANGER", "", "You are not on Tocsin's staff, so Tocsin cannot do that for you."),
])
def test_refusals_change_nothing_and_are_recorded(app, hooks, room, user, text, answer, caplog):
    caplog.set_level(logging.WARNING, "incident.integrations")
    before = count_rows(app, *TABLES)
    reply = slash(hooks, text, user=user, channel=room[1])
    assert reply.status_code == 200 and reply.get_json() == {"response_type": "ephemeral", "text": answer}
    assert count_rows(app, *TABLES) == before
    assert any(f"refused for {user} in {room[1]}" in r.getMessage() for r in caplog.records)


def test_a_failing_change_says_why(api, hooks, room):
    incident_id, channel = room
    reply = slash(hooks, "update investigating again", user="ULENA", channel=channel).get_json()
    assert reply["text"].startswith(f"Posted a public update on INC-{incident_id}")
    slash(hooks, "resolve", user="ULENA", channel=channel, trigger_id="t.2")
    reply = slash(hooks, "escalate", user="UAMY", channel=channel, trigger_id="t.3").get_json()
    assert reply["text"] == f"Nothing changed on INC-{incident_id}: INC-{incident_id} is resolved."


def test_a_retried_command_changes_nothing(app, hooks, room):
    slash(hooks, "note first", user="ULENA", channel=room[1])
    before = count_rows(app, *TABLES)
    assert slash(hooks, "note first", user="ULENA", channel=room[1], retry=1).get_json()["text"] == (
        "Tocsin has already received and handled this request.")
    assert count_rows(app, *TABLES) == before


# The update form --------------------------------------------------------------------------------

def test_update_alone_opens_the_update_form_and_its_submission_posts(app, api, hooks, room, slack):
    incident_id, channel = room
    assert slash(hooks, "update", user="ULENA", channel=channel, trigger_id="1795.9.upd").get_data() == b""
    worker.tick(app)
    view = params(slack.calls("views.open")[0])["view"]
    assert view["callback_id"] == "tocsin_update"
    assert view["blocks"][1]["element"]["initial_option"]["value"] == "investigating"
    body = click(hooks, view_submission(view, {"status": chosen("monitoring"), "message": typed("Fix is live"),
                                               "visibility": chosen("internal", "radio_buttons")})).get_json()
    assert body["response_action"] == "update"
    assert f"Posted an internal update on INC-{incident_id}" in body["view"]["blocks"][0]["text"]["text"]
    update = api.get(f"/api/v1/incidents/{incident_id}/updates").get_json()["items"][0]
    assert (update["status"], update["message"], update["public"]) == ("monitoring", "Fix is live", False)
    refused = click(hooks, view_submission(view, {"status": chosen("identified")}, user="UAMY",
                                           view_hash="other")).get_json()
    assert "needs the lead permission" in refused["view"]["blocks"][0]["text"]["text"]
    wrong = click(hooks, view_submission(view, {"status": chosen("bogus")}, view_hash="third")).get_json()
    assert wrong["response_action"] == "errors" and list(wrong["errors"]) == ["status"]


def test_help_lists_every_command(hooks, frozen):
    text = slash(hooks, "help", user="USTRANGER").get_json()["text"]
    for verb in ("declare", "update", "role", "resolve", "note", "escalate", "page", "ack", "status", "help"):
        assert f"/incident {verb}" in text


# Parsing (pure) ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("update INC-7 internal identified Bad deploy", dict(verb="update", incident_id=7, status="identified",
                                                         message="Bad deploy", public=False)),
    ("update #7 Monitoring all green --internal", dict(verb="update", incident_id=7, status="monitoring",
                                                       message="all green", public=False)),
    ("update", dict(verb="update", modal=True)),
    ("role INC-3 sme Alice@Example.com", dict(verb="role", incident_id=3, role="subject_matter_expert",
                                              target="alice@example.com")),
    ("role comms <@U0ALICE|alice>", dict(verb="role", role="communications", target="U0ALICE")),
    ("resolve", dict(verb="resolve", message="")),
    ("note 42 servers are down", dict(verb="note", incident_id=None, message="42 servers are down")),
    ("note inc42 a &lt;b&gt;", dict(verb="note", incident_id=42, message="a <b>")),
    ("escalate INC-2 next db down", dict(verb="escalate", incident_id=2, level=None, message="db down")),
    ("escalate swarm", dict(verb="escalate", level="swarm", message="")),
    ("escalate engineering db down", dict(verb="escalate", level="engineering", message="engineering db down")),
    ("page <@UDAN> wake up", dict(verb="page", target="UDAN", message="wake up")),
])
def test_parse_the_new_commands(text, expected):
    command = parse_command(text)
    assert {key: getattr(command, key) for key in expected} == expected


@pytest.mark.parametrize("text, problem", [
    ("update fixed it", "Which status?"),
    ("role boss <@UBOB>", "Which role?"),
    ("role scribe bob", "Whom?"),
    ("note", "What should the note say?"),
    ("page bob", "Whom should Tocsin page?"),
    ("note " + "x" * 5001, "Keep the text to 5000 characters."),
])
def test_parse_problems(text, problem):
    command = parse_command(text)
    assert command.verb == "help" and command.problem.startswith(problem)


def test_a_private_incident_does_not_exist_for_staff_who_may_not_see_it(app, api, hooks, staff, slack):
    incident_id = declare(api, title="Credentials leaked", private=True)["id"]
    worker.tick(app)
    with app.app_context():
        channel = db.session.get(Incident, incident_id).slack_channel_id
    before = count_rows(app, *TABLES)
    for text, where in [("status", channel), (f"note INC-{incident_id} hello", "C0ELSEWHERE"),
                        ("update identified found it", channel), ("ack", channel)]:
        reply = slash(hooks, text, user="ULENA", channel=where, trigger_id=f"t.{text[:4]}").get_json()
        assert reply["text"] == f"Tocsin has no incident INC-{incident_id}.", text
    assert count_rows(app, *TABLES) == before
    assert api.put(f"/api/v1/incidents/{incident_id}/roles/scribe", json={"user": "lena@example.com"}).status_code == 200
    assert slash(hooks, "note seen now", user="ULENA", channel=channel, trigger_id="t.member").get_json()["text"] == (
        f"Noted on INC-{incident_id}'s timeline.")
