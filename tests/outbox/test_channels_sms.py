"""The Twilio SMS channel against Twilio's REST API as `responses` plays it at a test base URL."""
from __future__ import annotations

import base64
import logging

import pytest
import requests

from incident.outbox.channels import RenderedMessage, SendResult
from incident.outbox.channels.sms import TwilioSms

from ..stand_ins import TWILIO_SID, TWILIO_TOKEN

TO = "+447700900123"
FROM = "+15005550006"
SERVICE = "MG" + "f" * 32
MESSAGE = RenderedMessage(text="INC-42 SEV1: login failing. Updates: https://status.test/42")


@pytest.fixture
def sms(twilio_api):
    return TwilioSms(TWILIO_SID, TWILIO_TOKEN, from_number=FROM, base_url=twilio_api.base_url)


def twilio_error(status: int, code: int, message: str) -> dict:
    return {"code": code, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}"}


def test_send_posts_to_the_configured_base_url_with_basic_auth(sms, twilio_api):
    result = sms.send(TO, MESSAGE)

    assert result.ok and result.provider_id.startswith("SM") and len(result.provider_id) == 34
    [request] = twilio_api.requests
    assert request.url == twilio_api.url
    assert request.url.startswith("https://twilio.test/2010-04-01/Accounts/AC")
    expected = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert twilio_api.form() == {"To": TO, "From": FROM, "Body": MESSAGE.text}


def test_send_through_a_messaging_service(twilio_api):
    sms = TwilioSms(TWILIO_SID, TWILIO_TOKEN, messaging_service_sid=SERVICE,
                    base_url=twilio_api.base_url + "/")

    assert sms.send(TO, MESSAGE).ok
    assert twilio_api.form() == {"To": TO, "MessagingServiceSid": SERVICE, "Body": MESSAGE.text}


def test_a_sender_is_required():
    with pytest.raises(ValueError):
        TwilioSms(TWILIO_SID, TWILIO_TOKEN)


def test_the_twilio_edge_environment_does_not_move_the_base_url(twilio_api, monkeypatch):
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    sms = TwilioSms(TWILIO_SID, TWILIO_TOKEN, from_number=FROM, base_url=twilio_api.base_url)

    assert sms.send(TO, MESSAGE).ok
    assert twilio_api.requests[0].url == twilio_api.url


@pytest.mark.parametrize("status, code", [
    (400, 21211),   # invalid To
    (400, 21610),   # unsubscribed (STOP)
    (400, 21614),   # not a mobile number
    (400, 21408),   # region not enabled
    (400, 30007),   # carrier filtering
    (400, 21617),   # body too long
    (401, 20003),   # authentication failed
])
def test_permanent_errors_carry_the_twilio_code(sms, twilio_api, status, code):
    twilio_api.reply(status, twilio_error(status, code, f"The 'To' number {TO} is not valid."))

    assert sms.send(TO, MESSAGE) == SendResult(ok=False, error=str(code))


@pytest.mark.parametrize("status, body, error", [
    (429, twilio_error(429, 20429, "Too Many Requests"), "20429"),
    (500, twilio_error(500, 20500, "Internal Server Error"), "20500"),
    (503, "<html>Service Unavailable</html>", "503"),
    (400, twilio_error(400, 30001, "Queue overflow"), "30001"),
])
def test_transient_errors_are_retryable(sms, twilio_api, status, body, error):
    twilio_api.reply(status, body)

    assert sms.send(TO, MESSAGE) == SendResult(ok=False, error=error, retryable=True)
    assert len(twilio_api.requests) == 1


@pytest.mark.parametrize("exc, error", [
    (requests.ConnectionError("connection refused"), "connection_error"),
    (requests.ReadTimeout("read timed out"), "timeout"),
    (requests.ConnectTimeout("connect timed out"), "timeout"),
])
def test_network_failures_are_retryable(sms, twilio_api, exc, error):
    twilio_api.reply(body=exc)

    assert sms.send(TO, MESSAGE) == SendResult(ok=False, error=error, retryable=True)


def test_logs_never_hold_the_full_number_or_the_token(sms, twilio_api, caplog):
    caplog.set_level(logging.DEBUG)
    sms.send(TO, MESSAGE)
    twilio_api.reply(400, twilio_error(400, 21211, f"The 'To' number {TO} is not valid."))
    sms.send(TO, MESSAGE)

    assert "21211" in caplog.text and "+44" in caplog.text
    assert TO not in caplog.text and TWILIO_TOKEN not in caplog.text
