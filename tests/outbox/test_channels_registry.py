"""The channel registry (configured provider or sandbox) and the sandbox channel itself."""
from __future__ import annotations

import threading

import pytest

from incident.helpdesk.replies import TicketReplies
from incident.outbox.channels import CHANNEL_NAMES, RenderedMessage, build_channels
from incident.outbox.channels.email import SmtpEmail
from incident.outbox.channels.sandbox import KEEP, SandboxChannel
from incident.outbox.channels.slack import SlackChannel
from incident.outbox.channels.sms import TwilioSms

from ..stand_ins import SLACK_TOKEN, TWILIO_SID, TWILIO_TOKEN

MESSAGE = RenderedMessage(text="INC-42: login failing", subject="INC-42")
TWILIO = {"TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN}


def test_nothing_configured_means_every_channel_is_the_sandbox():
    channels = build_channels({})

    assert CHANNEL_NAMES == ("slack", "sms", "email", "ticket")   # what broadcasts may use: never `voice`
    assert tuple(channels) == (*CHANNEL_NAMES, "voice")
    for name, channel in channels.items():
        assert isinstance(channel, SandboxChannel)
        assert channel.name == name and channel.sandbox is True


def test_blank_values_count_as_unset():
    channels = build_channels({"SLACK_BOT_TOKEN": "", "SMTP_HOST": "  ", "TWILIO_ACCOUNT_SID": None})

    assert all(channel.sandbox for channel in channels.values())


def test_configured_providers_replace_the_sandbox():
    channels = build_channels({
        "SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_API_URL": "http://127.0.0.1:9/api",
        **TWILIO, "TWILIO_FROM_NUMBER": "+15005550006", "TWILIO_API_URL": "https://twilio.test",
        "SMTP_HOST": "smtp.test", "SMTP_PORT": 2525, "SMTP_USERNAME": "relay",
        "SMTP_PASSWORD": "pw", "MAIL_FROM": "Tocsin <status@tocsin.test>",
        "ZENDESK_URL": "http://127.0.0.1:9", "ZENDESK_EMAIL": "agent@example.com", "ZENDESK_API_TOKEN": "zd",
        "ZENDESK_REQUESTS_PER_MINUTE": 200,
    })

    slack, sms, email = channels["slack"], channels["sms"], channels["email"]
    assert isinstance(channels["ticket"], TicketReplies) and channels["ticket"].budget == ("zendesk", 200)
    assert channels["ticket"].helpdesk.base_url == "http://127.0.0.1:9"
    assert isinstance(slack, SlackChannel) and slack.base_url == "http://127.0.0.1:9/api/"
    assert isinstance(sms, TwilioSms) and sms.base_url == "https://twilio.test"
    assert sms.from_number == "+15005550006" and sms.messaging_service_sid is None
    assert isinstance(email, SmtpEmail)
    assert (email.host, email.port, email.username, email.password, email.starttls) == (
        "smtp.test", 2525, "relay", "pw", False)
    assert email.mail_from == "Tocsin <status@tocsin.test>"
    for name, channel in channels.items():
        assert channel.name == name and channel.sandbox is False


def test_provider_defaults():
    channels = build_channels({"SLACK_BOT_TOKEN": SLACK_TOKEN, **TWILIO,
                               "TWILIO_MESSAGING_SERVICE_SID": "MG1", "SMTP_HOST": "smtp.test"})

    assert channels["slack"].base_url == "https://slack.com/api/"
    assert channels["sms"].base_url == "https://api.twilio.com"
    assert channels["sms"].messaging_service_sid == "MG1"
    assert (channels["email"].port, channels["email"].starttls) == (25, False)
    assert channels["email"].mail_from == "tocsin@localhost"


@pytest.mark.parametrize("value, starttls, port", [(True, True, 587), (False, False, 25), (None, False, 25)])
def test_starttls_flag_and_its_default_port(value, starttls, port):
    email = build_channels({"SMTP_HOST": "smtp.test", "SMTP_STARTTLS": value})["email"]

    assert (email.starttls, email.port) == (starttls, port)


@pytest.mark.parametrize("partial", [
    {"TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_FROM_NUMBER": "+15005550006"},
    {"TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_FROM_NUMBER": "+15005550006"},
    TWILIO,   # credentials but no sender
])
def test_incomplete_twilio_settings_keep_sms_in_the_sandbox(partial):
    assert isinstance(build_channels(partial)["sms"], SandboxChannel)


def test_registry_channels_reach_their_stand_ins(slack_server, smtp_server, twilio_api):
    channels = build_channels({
        "SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_API_URL": slack_server.base_url,
        **TWILIO, "TWILIO_FROM_NUMBER": "+15005550006", "TWILIO_API_URL": twilio_api.base_url,
        "SMTP_HOST": smtp_server.host, "SMTP_PORT": smtp_server.port,
        "MAIL_FROM": "status@tocsin.test",
    })

    assert channels["slack"].send("C0INCIDENT", MESSAGE).ok
    assert channels["sms"].send("+447700900123", MESSAGE).ok
    assert channels["email"].send("ana@customer.test", MESSAGE).ok
    assert len(slack_server.calls("chat.postMessage")) == 1
    assert twilio_api.form()["Body"] == MESSAGE.text
    assert smtp_server.received[0].parse()["Subject"] == "INC-42"


def test_sandbox_records_instead_of_sending():
    sandbox = SandboxChannel("sms")

    first = sandbox.send("+447700900123", MESSAGE)
    second = sandbox.send("+447700900456", MESSAGE)

    assert first.ok and first.provider_id.startswith("sandbox-")
    assert first.provider_id != second.provider_id
    assert list(sandbox.sent) == [("+447700900123", MESSAGE), ("+447700900456", MESSAGE)]
    assert sandbox.messages_to("+447700900456") == [MESSAGE]


def test_sandbox_records_slack_like_updates_and_channel_actions():
    sandbox = SandboxChannel("slack")
    sent = sandbox.send("C0INCIDENT", MESSAGE)
    edited = RenderedMessage(text="Acknowledged")

    assert sandbox.update(sent.provider_id, edited).provider_id == sent.provider_id
    created = sandbox.create_channel("inc-42")
    assert created.ok and sandbox.invite(created.provider_id, ["U1"]).ok
    assert sandbox.set_topic(created.provider_id, "SEV1").ok
    assert list(sandbox.updated) == [(sent.provider_id, edited)]
    assert [action for action, _ in sandbox.actions] == ["create_channel", "invite", "set_topic"]
    sandbox.clear()
    assert len(sandbox.sent) == len(sandbox.updated) == len(sandbox.actions) == 0


def test_sandbox_holds_only_the_latest_messages():
    """The demo worker runs for days: its sandboxes keep the latest, not everything ever sent."""
    sandbox = SandboxChannel("email", keep=3)
    for n in range(5):
        sandbox.send(f"user{n}@customer.test", MESSAGE)
    assert [to for to, _ in sandbox.sent] == [f"user{n}@customer.test" for n in (2, 3, 4)]


def test_the_sandboxes_a_worker_builds_hold_a_small_record():
    """Nothing in the worker reads the record back; a soak's 20,000 emails held per channel doubled its memory."""
    channels = build_channels({})
    for n in range(KEEP + 50):
        channels["email"].send(f"user{n}@customer.test", MESSAGE)
        channels["slack"].update(f"ts{n}", MESSAGE)
    assert len(channels["email"].sent) == len(channels["slack"].updated) == KEEP <= 100
    assert channels["email"].messages_to(f"user{KEEP + 49}@customer.test") == [MESSAGE]


def test_sandbox_keeps_every_message_from_many_threads():
    sandbox = SandboxChannel("email", keep=None)
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        start.wait()
        for i in range(100):
            sandbox.send(f"user{n}-{i}@customer.test", MESSAGE)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(sandbox.sent) == 800
    assert len({to for to, _ in sandbox.sent}) == 800
