"""SMS through Twilio's REST API (the twilio helper library)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ...validation import mask_phone
from .base import RenderedMessage, SendResult

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.twilio.com"
# Twilio error codes worth another try although the HTTP status is a 4xx.
RETRYABLE_CODES = frozenset({
    20429,   # too many requests
    30001,   # queue overflow
    14107,   # SMS send rate limit exceeded
})
# Final by nature, whatever the status says: the number will not start working by itself.
PERMANENT_CODES = frozenset({
    21211,   # invalid 'To' number
    21408,   # permission to send to this region not enabled
    21610,   # recipient replied STOP (unsubscribed)
    21612,   # 'To' not reachable from this 'From'
    21614,   # 'To' is not a mobile number
    30003, 30004, 30005, 30006, 30007, 30008,  # unreachable, blocked, unknown, landline, filtered
})


def result_from_twilio_error(err: TwilioException) -> SendResult:
    """Map a Twilio REST error to retry later / failed for good."""
    status = getattr(err, "status", None) or 0
    code = getattr(err, "code", None) or status or None
    error = str(code) if code else "twilio_error"
    if code in PERMANENT_CODES:
        return SendResult(ok=False, error=error)
    if status == 429 or status >= 500 or code in RETRYABLE_CODES:
        return SendResult(ok=False, error=error, retryable=True)
    return SendResult(ok=False, error=error)


def twilio_request(create: Callable[[], Any], *, what: str, to: str) -> SendResult:
    """One Twilio REST call that creates a message or a call: its SID, or the error as a SendResult
    (retryable when the network failed). The number is masked in the log; never the exception text,
    which repeats the full number."""
    try:
        created = create()
    except TwilioException as err:
        result = result_from_twilio_error(err)
    except requests.Timeout:
        result = SendResult(ok=False, error="timeout", retryable=True)
    except (requests.ConnectionError, OSError):
        result = SendResult(ok=False, error="connection_error", retryable=True)
    except requests.RequestException:
        result = SendResult(ok=False, error="http_error", retryable=True)
    else:
        logger.info("%s to %s accepted: %s", what, mask_phone(to), created.sid)
        return SendResult(ok=True, provider_id=created.sid)
    logger.warning("%s to %s failed: %s%s", what, mask_phone(to), result.error,
                   " (will retry)" if result.retryable else "")
    return result


class TwilioSms:
    """Sends text messages from a number or a messaging service; never raises for a Twilio error."""

    name = "sms"
    sandbox = False

    def __init__(self, account_sid: str, auth_token: str, *, from_number: str | None = None,
                 messaging_service_sid: str | None = None, base_url: str = DEFAULT_BASE_URL,
                 timeout: float = 5):
        if not (from_number or messaging_service_sid):
            raise ValueError("TwilioSms needs from_number or messaging_service_sid")
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.base_url = base_url.rstrip("/")
        self.client = Client(account_sid, auth_token,
                             http_client=TwilioHttpClient(timeout=timeout))
        # TWILIO_API_URL is the only way to move the host: no edge/region rewriting on top.
        self.client.edge = None
        self.client.region = None
        self.client.api.base_url = self.base_url

    def __repr__(self) -> str:
        return f"TwilioSms(base_url={self.base_url!r})"

    def send(self, to: str, message: RenderedMessage) -> SendResult:
        """Messages.create with the text; provider_id is the Message SID (SM…)."""
        sender = ({"messaging_service_sid": self.messaging_service_sid}
                  if self.messaging_service_sid else {"from_": self.from_number})
        return twilio_request(lambda: self.client.messages.create(to=to, body=message.text, **sender),
                              what="sms", to=to)
