"""The Twilio voice channel against Twilio's Calls API as the stand-in plays it at a test base URL."""
from __future__ import annotations

import base64
import logging

import pytest
import requests

from incident.outbox.channels import RenderedMessage, SendResult, build_channels
from incident.outbox.channels.sandbox import SandboxChannel
from incident.outbox.channels.voice import TwilioVoice

from ..stand_ins import TWILIO_SID, TWILIO_TOKEN

TO = "+447700900123"
FROM = "+15005550006"
ANSWER = "https://tocsin.example.com/twilio/voice?page=7"
CALLBACK = "https://tocsin.example.com/twilio/voice/status?page=7"
MESSAGE = RenderedMessage(text="This is Tocsin. INC-42, severity 1: Login failing.",
                          headers={"Url": ANSWER, "StatusCallback": CALLBACK, "X-Tocsin-Locale": "en"})
TWILIO = {"TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN}


@pytest.fixture
def voice(twilio_api):
    return TwilioVoice(TWILIO_SID, TWILIO_TOKEN, from_number=FROM, base_url=twilio_api.base_url)


def twilio_error(status: int, code: int, message: str) -> dict:
    return {"code": code, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}"}


def test_a_call_is_placed_through_calls_json_with_our_twiml_and_status_urls(voice, twilio_api):
    result = voice.send(TO, MESSAGE)

    assert result.ok and result.provider_id.startswith("CA") and len(result.provider_id) == 34
    [call] = twilio_api.calls
    assert not twilio_api.requests   # no text message
    assert call.url == f"https://twilio.test/2010-04-01/Accounts/{TWILIO_SID}/Calls.json"
    expected = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    assert call.headers["Authorization"] == f"Basic {expected}"
    assert twilio_api.call_form() == {"To": TO, "From": FROM, "Url": ANSWER, "Method": "POST",
                                      "StatusCallback": CALLBACK, "StatusCallbackMethod": "POST", "Timeout": "30"}


def test_without_an_answer_url_nothing_is_called(voice, twilio_api):
    result = voice.send(TO, RenderedMessage(text="hello"))

    assert result == SendResult(ok=False, error="no_answer_url")
    assert not twilio_api.calls


def test_a_caller_number_is_required():
    with pytest.raises(ValueError):
        TwilioVoice(TWILIO_SID, TWILIO_TOKEN, from_number="")


@pytest.mark.parametrize("status, code", [(400, 21211), (400, 21215), (401, 20003), (400, 13224)])
def test_permanent_errors_carry_the_twilio_code(voice, twilio_api, status, code):
    twilio_api.reply_call(status, twilio_error(status, code, f"The 'To' number {TO} is not valid."))

    assert voice.send(TO, MESSAGE) == SendResult(ok=False, error=str(code))


@pytest.mark.parametrize("status, body, error", [
    (429, twilio_error(429, 20429, "Too Many Requests"), "20429"),
    (500, twilio_error(500, 20500, "Internal Server Error"), "20500"),
    (503, "<html>Service Unavailable</html>", "503"),
])
def test_transient_errors_are_retryable(voice, twilio_api, status, body, error):
    twilio_api.reply_call(status, body)

    assert voice.send(TO, MESSAGE) == SendResult(ok=False, error=error, retryable=True)
    assert len(twilio_api.calls) == 1


@pytest.mark.parametrize("exc, error", [
    (requests.ConnectionError("connection refused"), "connection_error"),
    (requests.ReadTimeout("read timed out"), "timeout"),
])
def test_network_failures_are_retryable(voice, twilio_api, exc, error):
    twilio_api.reply_call(body=exc)

    assert voice.send(TO, MESSAGE) == SendResult(ok=False, error=error, retryable=True)


def test_logs_never_hold_the_full_number_or_the_token(voice, twilio_api, caplog):
    caplog.set_level(logging.DEBUG)
    voice.send(TO, MESSAGE)
    twilio_api.reply_call(400, twilio_error(400, 21211, f"The 'To' number {TO} is not valid."))
    voice.send(TO, MESSAGE)

    assert "call to +44" in caplog.text and "21211" in caplog.text
    assert TO not in caplog.text and "7700900123" not in caplog.text and TWILIO_TOKEN not in caplog.text


def test_the_registry_builds_the_voice_channel_from_the_twilio_settings(twilio_api):
    plain = build_channels({**TWILIO, "TWILIO_FROM_NUMBER": FROM, "TWILIO_API_URL": twilio_api.base_url})["voice"]
    own = build_channels({**TWILIO, "TWILIO_FROM_NUMBER": FROM, "TWILIO_VOICE_FROM_NUMBER": "+15005550009",
                          "TWILIO_MESSAGING_SERVICE_SID": "MG1"})["voice"]

    assert isinstance(plain, TwilioVoice) and plain.base_url == "https://twilio.test" and plain.from_number == FROM
    assert isinstance(own, TwilioVoice) and own.from_number == "+15005550009" and own.base_url == "https://api.twilio.com"
    assert plain.send(TO, MESSAGE).ok and twilio_api.call_form()["From"] == FROM


@pytest.mark.parametrize("settings", [
    {},
    {**TWILIO, "TWILIO_MESSAGING_SERVICE_SID": "MG1"},   # a messaging service sends texts, it cannot call
    {"TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_FROM_NUMBER": FROM},
])
def test_without_a_number_to_call_from_calls_go_to_the_sandbox(settings):
    voice = build_channels(settings)["voice"]

    assert isinstance(voice, SandboxChannel) and voice.name == "voice" and voice.sandbox is True
    assert voice.send(TO, MESSAGE).ok and voice.messages_to(TO) == [MESSAGE]
