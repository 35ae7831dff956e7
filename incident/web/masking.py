"""What the outbox shows to whom: the parts of a message that only its recipient may use are
masked for every staff member but admins.

Those parts are links whose token alone is the authority to act — a customer's unsubscribe link
(it also lifts an opt-out, which the API reserves for leads) and a status sign-up's confirmation
link (double opt-in) — and the code in a status sign-up SMS. Reading the outbox must not let
anyone act as the recipient, so:

- a broadcast copy's unsubscribe link is built by the view, and for non-admins it is built with
  "…" in place of the token: the token never reaches the page;
- everything else the outbox shows (subject, text, HTML, Slack blocks, of every row) passes
  `mask_text`, which replaces the token of any link to those routes — their paths come from the
  app's URL map, so a route that moves stays masked — and, in a sign-up SMS, the code.

Admins see every message whole: they can grant themselves anything these would give.
"""
from __future__ import annotations

import re
from dataclasses import replace

from flask import current_app

from ..outbox.channels import RenderedMessage
from ..validation import mask_phone

MASK = "…"
CODE_MASK = "••••••"
# Routes whose <token> is all it takes to act for the recipient: the unsubscribe page and its
# one-click POST, and the status sign-up confirmation.
TOKEN_ENDPOINTS = ("unsubscribe.unsubscribe_page", "unsubscribe.unsubscribe", "status.confirm",
                   "status.manage_subscription")
CODE_PURPOSES = frozenset({"status_confirm"})   # SMS rows whose digits are a one-time code
_TOKEN = r"[\w.~%-]+"                            # URL-safe base64, itsdangerous' dots, percent escapes
_CODE = re.compile(r"(?<!\d)\d{4,8}(?!\d)")


def may_see_secrets(user) -> bool:
    """Admins see the outbox whole; everyone else sees links and codes masked."""
    return user is not None and user.can("admin")


def _token_links() -> re.Pattern:
    """`(/unsubscribe/)TOKEN|(/status/subscribe/confirm/)TOKEN`, from the app's own routes."""
    cached = current_app.extensions.get("tocsin_token_links")
    if cached is None:
        prefixes = []
        for endpoint in TOKEN_ENDPOINTS:
            rules = list(current_app.url_map.iter_rules(endpoint))   # KeyError: a route this must know went away
            prefixes += [rule.rule.partition("<")[0] for rule in rules]
        alternatives = "|".join(re.escape(prefix) for prefix in sorted(set(prefixes), key=len, reverse=True))
        cached = current_app.extensions["tocsin_token_links"] = re.compile(f"({alternatives}){_TOKEN}")
    return cached


def mask_text(text: str, *, codes: bool = False) -> str:
    """`text` with the token of every acting link masked, and with `codes`, every 4-8 digit number."""
    if not text:
        return text
    text = _token_links().sub(lambda m: m.group(1) + MASK, text)
    return _CODE.sub(CODE_MASK, text) if codes else text


def mask_blocks(node, *, codes: bool = False):
    """Slack blocks (any JSON) with every string masked."""
    if isinstance(node, list):
        return [mask_blocks(item, codes=codes) for item in node]
    if isinstance(node, dict):
        return {key: mask_blocks(value, codes=codes) for key, value in node.items()}
    return mask_text(node, codes=codes) if isinstance(node, str) else node


def mask_message(message: RenderedMessage) -> RenderedMessage:
    """A rendered message with every acting link masked, in every part."""
    return replace(message, text=mask_text(message.text), subject=mask_text(message.subject or ""),
                   html=mask_text(message.html) if message.html else message.html, blocks=mask_blocks(message.blocks),
                   headers={key: mask_text(value) for key, value in message.headers.items()})


def shown_row(delivery, *, reveal: bool) -> dict:
    """What the outbox shows of one row's own subject, text and blocks."""
    if reveal:
        return {"subject": delivery.subject, "text": delivery.text, "blocks": delivery.blocks}
    codes = delivery.purpose in CODE_PURPOSES and delivery.channel == "sms"
    return {"subject": mask_text(delivery.subject or ""), "text": mask_text(delivery.text or "", codes=codes),
            "blocks": mask_blocks(delivery.blocks)}


# Customers' contact details ---------------------------------------------------------------------
# Leads and admins edit customers, so they see phone numbers and emails whole; everyone below
# lead reads them masked as the logs mask phone numbers (country code and last two digits).

def may_see_contacts(user) -> bool:
    """Leads and admins see customers' phone numbers and emails whole; everyone else masked."""
    return user is not None and user.can("lead")


def mask_email(address: str | None) -> str:
    """`ops@acme.example` -> `o…@acme.example`: enough to tell two addresses apart, not to write to one."""
    if not address:
        return ""
    local, at, domain = address.partition("@")
    return f"{local[:1]}{MASK}{at}{domain}"


def shown_address(channel: str, value: str | None, *, reveal: bool) -> str:
    """A customer's address on a channel as this reader may see it (Slack channels and tickets whole)."""
    if reveal or not value:
        return value or ""
    if channel in ("sms", "phone"):
        return mask_phone(value)
    return mask_email(value) if channel == "email" else value
