"""The broadcast channel `ticket`: a public reply on the customer's own helpdesk ticket, so the
apology lands in the email thread they already have with support.

A reply carries its send's marker as a tag. A send that may have gone before (the worker died after
the helpdesk took it and before Tocsin wrote it down) first reads the ticket, and a ticket that
already carries the marker is not replied to again. Replies are paced by the helpdesk's budget,
which every worker shares with the sync.
"""
from __future__ import annotations

from collections.abc import Mapping

from ..outbox.channels import LOOK_FIRST, MARKER, RenderedMessage, SendResult, register_channel
from ..outbox.channels.sandbox import SandboxChannel
from .connector import Helpdesk, HelpdeskError
from .zendesk import ZendeskHelpdesk, zendesk_id

BUDGET = "zendesk"


class TicketReplies:
    name = "ticket"
    sandbox = False

    def __init__(self, helpdesk: Helpdesk, *, per_minute: int):
        self.helpdesk = helpdesk
        self.budget = (BUDGET, per_minute)

    def __repr__(self) -> str:
        return f"TicketReplies({self.helpdesk!r})"

    def send(self, to: str, message: RenderedMessage) -> SendResult:
        ticket = zendesk_id(to)
        if ticket is None:
            return SendResult(ok=False, error="not a helpdesk ticket id")
        marker = message.headers.get(MARKER, "")
        try:
            if marker and message.headers.get(LOOK_FIRST):
                if any(marker in t.tags for t in self.helpdesk.show_many([ticket])):
                    return SendResult(ok=True, provider_id=f"{ticket}:{marker}")   # it went before: not twice
            return SendResult(ok=True, provider_id=self.helpdesk.comment(ticket, message.text, [marker] if marker else []))
        except HelpdeskError as error:
            return SendResult(ok=False, error=str(error)[:100], retryable=error.retryable,
                              retry_after=error.retry_after)


def build(config: Mapping):
    """The `ticket` channel: replies through Zendesk when it is configured, else the sandbox."""
    if not config.get("ZENDESK_URL"):
        return SandboxChannel("ticket")
    return TicketReplies(ZendeskHelpdesk(config["ZENDESK_URL"], config["ZENDESK_EMAIL"], config["ZENDESK_API_TOKEN"]),
                         per_minute=config["ZENDESK_REQUESTS_PER_MINUTE"])


register_channel("ticket", build)
