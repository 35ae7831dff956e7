"""Slack requests as Slack makes and signs them, and the real Slack channel on the loopback stand-in."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from incident import clock
from incident.outbox.channels.sandbox import SandboxChannel
from incident.outbox.channels.slack import SlackChannel

from ..helpers import SECRET
from ..stand_ins import SLACK_TOKEN


def slack_headers(body: str, *, timestamp: int | None = None, secret: str = SECRET, retry: int | None = None) -> dict:
    """Slack's headers for `body`: v0 signature over v0:<timestamp>:<body>, as slack_sdk computes it."""
    stamp = str(timestamp if timestamp is not None else int(clock.utcnow().timestamp()))
    headers = {"X-Slack-Request-Timestamp": stamp, "Content-Type": "application/x-www-form-urlencoded",
               "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)}
    if retry:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    return headers


def block_actions(action: dict, *, user: str = "UAMY", trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
                  blocks: list | None = None) -> dict:
    """A block_actions payload as Slack documents it, for a click on a page in a DM."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0TOCSIN"},
        "api_app_id": "A0TOCSIN",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": "1795000000.000001", "channel_id": "D0AMY",
                      "is_ephemeral": False},
        "trigger_id": trigger_id,
        "team": {"id": "T0TOCSIN", "domain": "tocsin-test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": "D0AMY", "name": "directmessage"},
        "message": {"type": "message", "subtype": "bot_message", "text": "Page", "ts": "1795000000.000001",
                    "bot_id": "B0TOCSIN", "blocks": blocks or []},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T0TOCSIN/1234567890/abcdefABCDEF",
        "actions": [{**action, "action_ts": "1795000012.345678"}],
    }


def click(hooks, payload: dict, **signing):
    body = urlencode({"payload": json.dumps(payload)})
    return hooks.post("/slack/interactions", data=body, headers=slack_headers(body, **signing))


def slash(hooks, text: str, *, user: str = "UAMY", trigger_id: str = "1234567890.0987654321.abcdef01234567",
          channel: str = "C0INCIDENTS", **signing):
    """A slash command request with the fields Slack sends."""
    body = urlencode({
        "token": "legacy-verification-token", "team_id": "T0TOCSIN", "team_domain": "tocsin-test",
        "channel_id": channel, "channel_name": "incidents", "user_id": user, "user_name": user.lower(),
        "command": "/incident", "text": text, "api_app_id": "A0TOCSIN", "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T0TOCSIN/1234567890/abcdefABCDEF",
        "trigger_id": trigger_id})
    return hooks.post("/slack/commands", data=body, headers=slack_headers(body, **signing))


def event(hooks, body: dict, **signing):
    """An Events API delivery: JSON, signed like every Slack request."""
    raw = json.dumps(body)
    headers = {**slack_headers(raw, **signing), "Content-Type": "application/json"}
    return hooks.post("/slack/events", data=raw, headers=headers)


def event_callback(inner: dict, *, event_id: str = "Ev0PIN0001") -> dict:
    """The envelope Slack wraps every event in."""
    return {"token": "legacy-verification-token", "team_id": "T0TOCSIN", "api_app_id": "A0TOCSIN",
            "event": inner, "type": "event_callback", "event_id": event_id, "event_time": 1795000100,
            "authorizations": [{"team_id": "T0TOCSIN", "user_id": "U0BOT", "is_bot": True}],
            "is_ext_shared_channel": False, "event_context": "4-eyJldCI6InBpbl9hZGRlZCJ9"}


def view_submission(view: dict, values: dict, *, user: str = "ULENA", view_id: str = "V0FORM0001",
                    view_hash: str = "1795000200.abcdEFGH") -> dict:
    """A view_submission payload for a form Tocsin opened (`view`), with what was typed (`values`)."""
    return {"type": "view_submission", "team": {"id": "T0TOCSIN", "domain": "tocsin-test"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0TOCSIN"},
            "api_app_id": "A0TOCSIN", "token": "legacy-verification-token", "trigger_id": "1795000200.1.abc",
            "view": {**view, "id": view_id, "hash": view_hash, "team_id": "T0TOCSIN", "app_id": "A0TOCSIN",
                     "state": {"values": values}},
            "response_urls": [], "is_enterprise_install": False, "enterprise": None}


def typed(text: str) -> dict:
    return {"value": {"type": "plain_text_input", "value": text}}


def chosen(value: str, kind: str = "static_select") -> dict:
    return {"value": {"type": kind, "selected_option": {"text": {"type": "plain_text", "text": value},
                                                        "value": value}}}


@pytest.fixture
def slack(app, slack_server):
    """The real SlackChannel pointed at the loopback Slack Web API; SMS and email recorded."""
    app.extensions["tocsin_channels"] = {"slack": SlackChannel(SLACK_TOKEN, base_url=slack_server.base_url),
                                         "sms": SandboxChannel("sms"), "email": SandboxChannel("email"),
                                         "ticket": SandboxChannel("ticket")}
    yield slack_server
    app.extensions.pop("tocsin_channels", None)


def params(request) -> dict:
    """A recorded Web API call's parameters, JSON-valued ones decoded."""
    found = dict(request.params)
    for key in ("blocks", "view"):
        if isinstance(found.get(key), str):
            found[key] = json.loads(found[key])
    return found
