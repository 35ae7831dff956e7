"""The Slack channel against a loopback Slack Web API: requests as sent, answers as mapped."""
from __future__ import annotations

import logging

import pytest

from incident.outbox.channels import RenderedMessage, SendResult
from incident.outbox.channels.slack import SlackChannel, channel_name

from ..stand_ins import SLACK_TOKEN, closed_port

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*SEV1* Login failing"}}]
MESSAGE = RenderedMessage(text="SEV1 Login failing", blocks=BLOCKS)


@pytest.fixture
def slack(slack_server):
    return SlackChannel(SLACK_TOKEN, base_url=slack_server.base_url, timeout=2)


def test_send_posts_text_and_blocks_with_the_bearer_token(slack, slack_server):
    result = slack.send("C0INCIDENT", MESSAGE)

    assert result.ok and not result.retryable and result.error is None
    channel, ts = result.provider_id.split(":")
    assert channel == "C0INCIDENT" and ts.startswith("1795000000.")
    [request] = slack_server.calls("chat.postMessage")
    assert request.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.params["channel"] == "C0INCIDENT"
    assert request.params["text"] == "SEV1 Login failing"
    assert request.params["blocks"] == BLOCKS


def test_send_to_a_user_keeps_the_dm_channel_for_later_updates(slack, slack_server):
    result = slack.send("U0ANA", RenderedMessage(text="You are paged"))

    assert result.ok and result.provider_id.startswith("D0ANA:")
    assert "blocks" not in slack_server.calls("chat.postMessage")[0].params


def test_update_edits_the_message_it_sent(slack, slack_server):
    sent = slack.send("C0INCIDENT", MESSAGE)
    new_blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Acknowledged"}}]

    result = slack.update(sent.provider_id, RenderedMessage(text="Acknowledged", blocks=new_blocks))

    assert result == SendResult(ok=True, provider_id=sent.provider_id)
    [request] = slack_server.calls("chat.update")
    channel, ts = sent.provider_id.split(":")
    assert (request.params["channel"], request.params["ts"]) == (channel, ts)
    assert request.params["text"] == "Acknowledged" and request.params["blocks"] == new_blocks


@pytest.mark.parametrize("provider_id", ["", "C0INCIDENT", "C0INCIDENT:", ":123.4"])
def test_update_of_a_malformed_provider_id_fails_without_a_request(slack, slack_server,
                                                                   provider_id):
    result = slack.update(provider_id, MESSAGE)

    assert result == SendResult(ok=False, error="invalid_provider_id")
    assert slack_server.requests == []


def test_blocks_without_text_are_refused_before_slack(slack, slack_server):
    result = slack.send("C0INCIDENT", RenderedMessage(text="  ", blocks=BLOCKS))

    assert result == SendResult(ok=False, error="no_text")
    assert slack_server.requests == []


def test_rate_limit_is_retryable_with_retry_after_and_not_retried_by_the_sdk(slack, slack_server):
    slack_server.reply("chat.postMessage", status=429, headers={"Retry-After": "7"},
                       body={"ok": False, "error": "ratelimited"})

    result = slack.send("C0INCIDENT", MESSAGE)

    assert result == SendResult(ok=False, error="ratelimited", retryable=True, retry_after=7.0)
    assert len(slack_server.calls("chat.postMessage")) == 1


@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "invalid_auth",
                                  "account_inactive", "is_archived", "msg_too_long",
                                  "invalid_blocks"])
def test_slack_errors_are_permanent_with_their_code(slack, slack_server, code):
    slack_server.reply("chat.postMessage", body={"ok": False, "error": code})

    assert slack.send("C0INCIDENT", MESSAGE) == SendResult(ok=False, error=code)


def test_a_wrong_token_is_invalid_auth(slack_server):
    slack = SlackChannel("xoxb-wrong", base_url=slack_server.base_url, timeout=2)

    assert slack.send("C0INCIDENT", MESSAGE) == SendResult(ok=False, error="invalid_auth")


@pytest.mark.parametrize("status, body, error", [
    (500, "<html>Internal Server Error</html>", "http_500"),
    (503, {"ok": False, "error": "service_unavailable"}, "service_unavailable"),
    (502, {"ok": False}, "http_502"),
    (200, {"ok": False, "error": "internal_error"}, "internal_error"),
])
def test_server_errors_are_retryable(slack, slack_server, status, body, error):
    slack_server.reply("chat.postMessage", status=status, body=body)

    assert slack.send("C0INCIDENT", MESSAGE) == SendResult(ok=False, error=error, retryable=True)
    assert len(slack_server.calls("chat.postMessage")) == 1


def test_connection_refused_is_retryable():
    slack = SlackChannel(SLACK_TOKEN, base_url=f"http://127.0.0.1:{closed_port()}/api", timeout=2)

    result = slack.send("C0INCIDENT", MESSAGE)

    assert result == SendResult(ok=False, error="connection_error", retryable=True)


def test_a_slow_slack_times_out_as_retryable(slack_server):
    slack = SlackChannel(SLACK_TOKEN, base_url=slack_server.base_url, timeout=0.2)
    slack_server.reply("chat.postMessage", hang=True)

    result = slack.send("C0INCIDENT", MESSAGE)

    assert result == SendResult(ok=False, error="timeout", retryable=True)


def test_the_token_never_reaches_the_logs(slack, slack_server, caplog):
    caplog.set_level(logging.DEBUG)
    slack_server.reply("chat.postMessage", body={"ok": False, "error": "channel_not_found"})

    slack.send("C0INCIDENT", MESSAGE)
    slack.send("C0INCIDENT", MESSAGE)

    assert "channel_not_found" in caplog.text
    assert SLACK_TOKEN not in caplog.text


def test_channel_names_are_made_valid():
    assert channel_name("INC-42 Login down!") == "inc-42-login-down"
    assert channel_name("  ") == "incident"
    assert len(channel_name("x" * 200)) == 80


def test_create_channel_returns_its_id(slack, slack_server):
    result = slack.create_channel("INC-42 Login down")

    assert result.ok and result.provider_id == slack_server.channels["inc-42-login-down"]
    [request] = slack_server.calls("conversations.create")
    assert request.params["name"] == "inc-42-login-down"
    assert request.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"


def test_create_channel_with_a_taken_name_reuses_the_existing_channel(slack, slack_server):
    first = slack.create_channel("inc-42")

    again = slack.create_channel("inc-42")

    assert again == SendResult(ok=True, provider_id=first.provider_id)
    assert len(slack_server.calls("conversations.list")) == 1


def test_create_channel_with_a_taken_name_follows_the_list_cursor(slack, slack_server):
    slack_server.reply("conversations.create", body={"ok": False, "error": "name_taken"})
    slack_server.reply("conversations.list", body={
        "ok": True, "channels": [{"id": "C1", "name": "general"}],
        "response_metadata": {"next_cursor": "page2"}})
    slack_server.reply("conversations.list", body={
        "ok": True, "channels": [{"id": "C2", "name": "inc-7"}],
        "response_metadata": {"next_cursor": ""}})

    assert slack.create_channel("inc-7") == SendResult(ok=True, provider_id="C2")
    assert slack_server.calls("conversations.list")[1].params["cursor"] == "page2"


def test_create_channel_says_name_taken_when_the_channel_cannot_be_found(slack, slack_server):
    slack_server.reply("conversations.create", body={"ok": False, "error": "name_taken"})

    assert slack.create_channel("inc-8") == SendResult(ok=False, error="name_taken")


def test_create_channel_when_rate_limited_is_retryable(slack, slack_server):
    slack_server.reply("conversations.create", status=429, headers={"Retry-After": "30"},
                       body={"ok": False, "error": "ratelimited"})

    result = slack.create_channel("inc-9")

    assert (result.ok, result.retryable, result.retry_after) == (False, True, 30.0)


def test_invite_sends_the_users_comma_separated(slack, slack_server):
    result = slack.invite("C0INCIDENT", ["U1", "U2", "U1"])

    assert result == SendResult(ok=True, provider_id="C0INCIDENT")
    [request] = slack_server.calls("conversations.invite")
    assert (request.params["channel"], request.params["users"]) == ("C0INCIDENT", "U1,U2")


def test_invite_with_someone_already_in_goes_one_by_one(slack, slack_server):
    slack_server.reply("conversations.invite", body={"ok": False, "error": "already_in_channel"})
    slack_server.reply("conversations.invite", body={"ok": False, "error": "already_in_channel"})

    assert slack.invite("C0INCIDENT", ["U1", "U2"]).ok
    users = [r.params["users"] for r in slack_server.calls("conversations.invite")]
    assert users == ["U1,U2", "U1", "U2"]


def test_invite_of_an_unknown_user_fails(slack, slack_server):
    slack_server.reply("conversations.invite", body={"ok": False, "error": "user_not_found"})

    assert slack.invite("C0INCIDENT", ["U404"]) == SendResult(ok=False, error="user_not_found")


def test_invite_nobody_asks_nothing(slack, slack_server):
    assert slack.invite("C0INCIDENT", []).ok
    assert slack_server.requests == []


def test_set_topic(slack, slack_server):
    result = slack.set_topic("C0INCIDENT", "SEV1 · commander @ana")

    assert result == SendResult(ok=True, provider_id="C0INCIDENT")
    [request] = slack_server.calls("conversations.setTopic")
    assert request.params == {"channel": "C0INCIDENT", "topic": "SEV1 · commander @ana"}


def test_set_topic_on_an_archived_channel_fails_for_good(slack, slack_server):
    slack_server.reply("conversations.setTopic", body={"ok": False, "error": "is_archived"})

    assert slack.set_topic("C0OLD", "x") == SendResult(ok=False, error="is_archived")
