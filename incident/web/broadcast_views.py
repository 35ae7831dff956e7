"""How the staff pages show customer messages: previews, the outbox's personalised copies,
Slack mrkdwn made readable, and the CSP that lets a sandboxed email iframe keep its styles.

An email preview is an `<iframe sandbox srcdoc=…>`. A srcdoc document inherits the page's
Content-Security-Policy, whose `style-src 'self'` would strip the email layout's inline
`style` attributes (and report each one). The pages that show emails widen style-src by
exactly the hashes of those attribute values (`'unsafe-hashes'`), nothing more: scripts stay
forbidden, and the iframe's sandbox keeps the email from running any.
"""
from __future__ import annotations

import base64
import hashlib
import html
import re
from functools import lru_cache

from flask import current_app
from markupsafe import Markup, escape
from sqlalchemy import select

from .. import locales
from ..broadcast import service as broadcasts
from ..broadcast import templates
from ..broadcast.models import BroadcastMessage
from ..customers.models import Customer
from ..extensions import db
from ..outbox.channels import RenderedMessage
from .filters import security_headers
from .masking import MASK, mask_message, mask_text

CHANNEL_LABELS = {"email": "Email", "sms": "SMS", "slack": "Slack", "ticket": "Helpdesk ticket reply"}
class _LocaleNames(dict):
    """Each language as it names itself ("Français"), from its own strings file."""

    def get(self, tag, default=None):
        return locales.t(tag, "lang_name") if tag in locales.available() else default


LOCALE_NAMES = _LocaleNames()
_STYLE_ATTR = re.compile(r"""\sstyle\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_SLACK_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>|<([^<>|]+)>")
_SLACK_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_SLACK_ITALIC = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")
EMOJI = {":warning:": "\u26a0\ufe0f", ":white_check_mark:": "\u2705", ":information_source:": "\u2139\ufe0f",
         ":rotating_light:": "\U0001f6a8", ":tada:": "\U0001f389"}
_EMOJI = re.compile("|".join(re.escape(code) for code in EMOJI))


# Previews ------------------------------------------------------------------------------------

def sample_recipient(incident_id: int, audience: dict) -> tuple[int | None, str]:
    """The first customer of an audience (id, name): previews show the message as they get it."""
    row = db.session.execute(select(Customer.id, Customer.name)
                             .where(Customer.id.in_(broadcasts.audience_ids(incident_id, audience)))
                             .order_by(Customer.id).limit(1)).first()
    return (row.id, row.name or "") if row else (None, "")


def preview(incident, data) -> dict:
    """Each channel's message in each locale as the audience's first customer would get it; nothing is saved."""
    audience = data.audience.model_dump()
    customer_id, name = sample_recipient(incident.id, audience)
    promise = broadcasts.preview_promise(data.send_at, data.repeat_every_minutes or data.next_update_minutes)
    overrides = templates.load_overrides()
    messages: dict = {}
    for locale in templates.languages():
        context = broadcasts.message_context(incident, data.kind, data.message, locale=locale,
                                             next_update_at=promise, include_workaround=data.include_workaround)
        context["customer_name"] = name
        for channel in data.channels:
            # the link's shape, never the sample customer's token: a preview is read, not received
            context["unsubscribe_url"] = f"{current_app.config['PUBLIC_BASE_URL']}/unsubscribe/{MASK}"
            cell = templates.preview(data.kind, [channel], [locale], context, overrides)[channel][locale]
            messages.setdefault(channel, {})[locale] = cell
    return {"audience": broadcasts.count_audience(incident.id, audience), "sample_name": name,
            "messages": messages}


# The outbox ----------------------------------------------------------------------------------

def customer_copies(deliveries, *, reveal: bool = False) -> dict[int, dict]:
    """{delivery id: {"message", "sms"}} for broadcast rows: the stored message, personalised as sent;
    its unsubscribe link masked unless `reveal` (see `masking`)."""
    wanted = [d for d in deliveries if d.message_id is not None]
    if not wanted:
        return {}
    stored = {m.id: m for m in db.session.scalars(select(BroadcastMessage).where(
        BroadcastMessage.id.in_({d.message_id for d in wanted})))}
    names = dict(db.session.execute(select(Customer.id, Customer.name).where(
        Customer.id.in_({d.customer_id for d in wanted if d.customer_id}))).tuples().all())
    copies = {}
    for d in wanted:
        row = stored.get(d.message_id)
        if row is None:
            continue
        message = RenderedMessage(text=row.text, subject=row.subject, html=row.html, blocks=row.blocks)
        url = broadcasts.unsubscribe_url(d.customer_id, row.channel) if d.customer_id else ""
        message = templates.personalize(message, name=names.get(d.customer_id) or "",
                                        unsubscribe_url=url if reveal else mask_text(url))
        if not reveal:
            message = mask_message(message)
        copies[d.id] = {"channel": row.channel, "locale": row.locale, "message": message,
                        "sms": templates.sms_info(message.text) if row.channel == "sms" else None}
    return copies


# Email iframes and the CSP -------------------------------------------------------------------

def _style_hashes(markup: str | None) -> set[str]:
    found = set()
    for double, single in _STYLE_ATTR.findall(markup or ""):
        digest = hashlib.sha256(html.unescape(double or single).encode("utf-8")).digest()
        found.add(f"'sha256-{base64.b64encode(digest).decode()}'")
    return found


@lru_cache(maxsize=1)
def _layout_hashes() -> frozenset[str]:
    """The hashes of every style the email layout can carry, from a sample with every part present.

    The layout and the paragraph markup are fixed (staff edit only the text that goes in them),
    so a sample shows every style a real email can have.
    """
    found: set[str] = set()
    for locale in templates.languages():
        context = templates.sample_context(locale, message="See https://status.example.com/ for more.")
        found |= _style_hashes(templates.render("status", "email", locale, context).html)
    return frozenset(found)


def allow_email_styles(response, htmls=()):
    """Widen this response's style-src by the hashes of the email styles it (or its previews) shows."""

    hashes = set(_layout_hashes())
    for markup in htmls:
        hashes |= _style_hashes(markup)
    security_headers(response)
    policy = response.headers["Content-Security-Policy"]
    response.headers["Content-Security-Policy"] = policy.replace(
        "style-src 'self'", "style-src 'self' 'unsafe-hashes' " + " ".join(sorted(hashes)), 1)
    return response


# Slack mrkdwn, readable ----------------------------------------------------------------------

def emoji(text: str | None) -> str:
    """The few Slack emoji codes our templates use, as the characters Slack shows."""
    return _EMOJI.sub(lambda m: EMOJI[m.group(0)], text or "")


def mrkdwn(text: str | None) -> Markup:
    """Slack mrkdwn as safe HTML: links, *bold*, _italic_ and emoji; everything else shown as text."""
    plain = emoji(re.sub("[\ue010-\ue022]", "", text or ""))
    plain = plain.replace("&lt;", "\ue010").replace("&gt;", "\ue011").replace("&amp;", "\ue012")

    def link(match):
        url, label = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(3))
        return f"\ue020{url}\ue021{label}\ue022"

    out = str(escape(_SLACK_LINK.sub(link, plain)))
    out = _SLACK_ITALIC.sub(r"<em>\1</em>", _SLACK_BOLD.sub(r"<strong>\1</strong>", out))
    out = re.sub("\ue020([^\ue021]*)\ue021([^\ue022]*)\ue022",
                 lambda m: f'<a href="{m.group(1)}" rel="noopener noreferrer">{m.group(2)}</a>'
                 if m.group(1).startswith(("https://", "http://")) else m.group(2), out)
    out = out.replace("\ue010", "&lt;").replace("\ue011", "&gt;").replace("\ue012", "&amp;")
    return Markup(out.replace("\n", "<br>\n"))
