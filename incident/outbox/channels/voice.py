"""Phone calls through Twilio's REST API (the twilio helper library): Calls.json, for paging staff.

What the call says is not sent with it: Twilio fetches it as TwiML from the message's `Url` (our
`/twilio/voice`) when the call is answered, and reports how the call ended to its `StatusCallback`.
Both URLs come in the message's headers, written by whoever queued the page.
"""
from __future__ import annotations

import logging

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from .base import RenderedMessage, SendResult
from .sms import DEFAULT_BASE_URL, twilio_request

logger = logging.getLogger(__name__)

ANSWER_URL, STATUS_CALLBACK = "Url", "StatusCallback"
RING_SECONDS = 30   # then Twilio gives up with `no-answer`, and the page moves on to the level's next channel


class TwilioVoice:
    """Places calls from one number; never raises for a Twilio error."""

    name = "voice"
    sandbox = False

    def __init__(self, account_sid: str, auth_token: str, *, from_number: str, base_url: str = DEFAULT_BASE_URL,
                 timeout: float = 5, ring_seconds: int = RING_SECONDS):
        if not from_number:
            raise ValueError("TwilioVoice needs from_number")
        self.from_number = from_number
        self.ring_seconds = ring_seconds
        self.base_url = base_url.rstrip("/")
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
        # TWILIO_API_URL is the only way to move the host: no edge/region rewriting on top.
        self.client.edge = None
        self.client.region = None
        self.client.api.base_url = self.base_url

    def __repr__(self) -> str:
        return f"TwilioVoice(base_url={self.base_url!r})"

    def send(self, to: str, message: RenderedMessage) -> SendResult:
        """Calls.create with the TwiML URL and the status callback; provider_id is the Call SID (CA…)."""
        answer_url, callback = message.headers.get(ANSWER_URL), message.headers.get(STATUS_CALLBACK)
        if not answer_url:
            return SendResult(ok=False, error="no_answer_url")
        extra = {"status_callback": callback, "status_callback_method": "POST"} if callback else {}
        return twilio_request(lambda: self.client.calls.create(to=to, from_=self.from_number, url=answer_url,
                                                               method="POST", timeout=self.ring_seconds, **extra),
                              what="call", to=to)
