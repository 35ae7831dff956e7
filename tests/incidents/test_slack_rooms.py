"""Per-incident Slack channels through Slack's Web API (a loopback stand-in), and pages with Acknowledge."""
from __future__ import annotations

import json

import pytest

from incident import worker
from incident.extensions import db
from incident.incidents.models import Incident
from incident.outbox.channels.sandbox import SandboxChannel
from incident.outbox.channels.slack import SlackChannel

from ..helpers import declare
from ..stand_ins import SLACK_TOKEN


@pytest.fixture
def slack(app, slack_server):  # noqa: F811
    """The real SlackChannel, pointed at the loopback Slack."""
    app.extensions["tocsin_channels"] = {"slack": SlackChannel(SLACK_TOKEN, base_url=slack_server.base_url),
                                         "sms": SandboxChannel("sms"), "email": SandboxChannel("email")}
    yield slack_server
    app.extensions.pop("tocsin_channels", None)


def form(request):
    return request.params


def test_a_major_incident_gets_its_channel_and_updates(app, api, make_user, slack):
    _, lead = make_user("ic@example.com", role="lead", slack_id="UIC")
    make_user("tl@example.com", role="engineer", slack_id="UTL")
    incident_id = declare(api, commander="ic@example.com", title="Login failing")["id"]
    worker.tick(app)
    assert [form(r)["name"] for r in slack.calls("conversations.create")] == [f"inc-{incident_id}-login-failing"]
    with app.app_context():
        room = db.session.get(Incident, incident_id).slack_channel_id
    assert room and form(slack.calls("conversations.invite")[0])["users"] == "UIC"
    assert "SEV1 · investigating · commander: ic@example.com" in form(slack.calls("conversations.setTopic")[0])["topic"]

    api.put(f"/api/v1/incidents/{incident_id}/roles/technical_lead", json={"user": "tl@example.com"})
    api.post(f"/api/v1/incidents/{incident_id}/updates", json={"status": "identified", "message": "Bad deploy"})
    worker.tick(app)
    assert form(slack.calls("conversations.invite")[-1])["users"] == "UTL"
    post = form(slack.calls("chat.postMessage")[-1])
    assert post["channel"] == room and "is identified* — Bad deploy" in post["text"]
    assert "identified" in form(slack.calls("conversations.setTopic")[-1])["topic"]


def test_minor_incidents_get_no_channel(app, api, slack):
    declare(api, severity="SEV3")
    worker.tick(app)
    assert slack.calls("conversations.create") == []


def test_slack_page_carries_the_acknowledge_button_and_is_edited_on_ack(app, api, api_as, setup, slack):  # noqa: F811
    incident_id = declare(api, severity="SEV3")["id"]
    api.post(f"/api/v1/incidents/{incident_id}/escalate", json={})
    worker.tick(app)
    page = form(slack.calls("chat.postMessage")[0])
    blocks = json.loads(page["blocks"]) if isinstance(page["blocks"], str) else page["blocks"]
    button = blocks[-1]["elements"][0]
    assert (page["channel"], button["action_id"], button["value"]) == ("UAMY", "acknowledge", str(incident_id))
    api_as("engineer", "amy2@example.com").post(f"/api/v1/incidents/{incident_id}/acknowledge")
    worker.tick(app)
    edit = form(slack.calls("chat.update")[0])
    assert "Acknowledged by amy2@example.com" in edit["text"]
