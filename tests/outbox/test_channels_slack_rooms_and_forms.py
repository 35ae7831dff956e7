"""The Slack channel's calls for running an incident from Slack — views.open, conversations.archive,
reading a message back — against the loopback Slack Web API."""
from __future__ import annotations

import json

import pytest

from incident.outbox.channels.sandbox import SandboxChannel
from incident.outbox.channels.slack import FetchedMessage, SlackChannel

from ..stand_ins import SLACK_TOKEN

VIEW = {"type": "modal", "callback_id": "tocsin_declare", "title": {"type": "plain_text", "text": "Declare"},
        "blocks": []}


@pytest.fixture
def slack(slack_server):
    return SlackChannel(SLACK_TOKEN, base_url=slack_server.base_url, timeout=2)


def test_open_view_sends_the_trigger_and_the_view(slack, slack_server):
    result = slack.open_view("1795.1.trigger", VIEW)
    assert result.ok and result.provider_id.startswith("V")
    [call] = slack_server.calls("views.open")
    view = call.params["view"]
    assert call.params["trigger_id"] == "1795.1.trigger"
    assert (json.loads(view) if isinstance(view, str) else view)["callback_id"] == "tocsin_declare"


def test_an_expired_trigger_fails_for_good(slack, slack_server):
    slack_server.reply("views.open", body={"ok": False, "error": "expired_trigger_id"})
    result = slack.open_view("old", VIEW)
    assert (result.ok, result.error, result.retryable) == (False, "expired_trigger_id", False)


def test_archive_and_archive_again(slack, slack_server):
    assert slack.archive("C0ROOM").ok
    again = slack.archive("C0ROOM")            # Slack answers already_archived: it is what was asked
    assert again.ok and again.provider_id == "C0ROOM"
    assert [c.params["channel"] for c in slack_server.calls("conversations.archive")] == ["C0ROOM", "C0ROOM"]
    slack_server.reply("conversations.archive", body={"ok": False, "error": "not_in_channel"})
    assert slack.archive("C0OTHER").error == "not_in_channel"
    slack_server.reply("conversations.archive", status=429, body={"ok": False, "error": "ratelimited"},
                       headers={"Retry-After": "7"})
    limited = slack.archive("C0OTHER")
    assert (limited.retryable, limited.retry_after) == (True, 7.0)


def test_fetch_message_from_history_then_from_a_thread(slack, slack_server):
    slack_server.messages[("C0ROOM", "1795.000100")] = {"ts": "1795.000100", "user": "UAMY", "text": "Root cause"}
    found = slack.fetch_message("C0ROOM", "1795.000100")
    assert isinstance(found, FetchedMessage) and (found.ok, found.text, found.user) == (True, "Root cause", "UAMY")
    slack_server.reply("conversations.history", body={"ok": True, "messages": []})
    slack_server.reply("conversations.replies", body={"ok": True, "messages": [
        {"ts": "1795.000001", "user": "UBOB", "text": "parent"}, {"ts": "1795.000200", "user": "UDAN", "text": "reply"}]})
    in_thread = slack.fetch_message("C0ROOM", "1795.000200")
    assert (in_thread.text, in_thread.user) == ("reply", "UDAN")
    missing = slack.fetch_message("C0ROOM", "1795.999999")
    assert (missing.ok, missing.error, missing.retryable) == (False, "message_not_found", False)


def test_the_sandbox_records_these_calls():
    sandbox = SandboxChannel("slack")
    assert sandbox.open_view("t", VIEW).ok and sandbox.archive("C1").ok and sandbox.fetch_message("C1", "1.2").ok
    assert [name for name, _ in sandbox.actions] == ["open_view", "archive", "fetch_message"]
