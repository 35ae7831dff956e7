"""The fixed frame around a rendered body: the email layout and Slack's Block Kit blocks."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import locales
from ..outbox.channels import RenderedMessage
from .template_render import render_source
from .wording import html_env, slack_escape, text_env, text_to_html, tidy

TEMPLATE_DIR = Path(__file__).with_name("templates")
SLACK_HEADER_MAX, SLACK_SECTION_MAX, SLACK_SECTIONS_MAX = 150, 3000, 45
SUBJECT_MAX = 300

LAYOUT_KEYS = ("why", "unsubscribe", "status_page", "incident")


def layout_strings(locale: str) -> dict[str, str]:
    """The frame's own words (footer, button, label) in the message's language."""
    return {key: locales.t(locale, f"layout.{key}") for key in LAYOUT_KEYS}


@lru_cache(maxsize=None)
def _layout(name: str) -> str:
    return (TEMPLATE_DIR / name).read_text(encoding="utf-8")


def email_message(subject: str, body: str, values: dict) -> RenderedMessage:
    """The email: the body as its text part and, escaped into paragraphs, in the HTML layout."""
    strings = layout_strings(values["locale"])
    layout = {**values, "subject": subject, "t": strings}
    html = render_source(html_env, _layout("_layout.email.html"), {**layout, "body": text_to_html(body)},
                         "layout")
    text = render_source(text_env, _layout("_layout.email.txt"), {**layout, "body": body}, "layout")
    headers = {"Content-Language": values["locale"]}
    if values["unsubscribe_url"]:
        headers |= {"List-Unsubscribe": f"<{values['unsubscribe_url']}>",
                   "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return RenderedMessage(text=tidy(text), subject=subject[:SUBJECT_MAX], html=html, headers=headers)


def slack_message(header: str, body: str, values: dict) -> RenderedMessage:
    """Block Kit: header, a section per paragraph, the status page button, a context line."""
    strings = layout_strings(values["locale"])
    blocks: list[dict[str, Any]] = []
    if header:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": header[:SLACK_HEADER_MAX],
                                                  "emoji": True}})
    for paragraph in [p for p in body.split("\n\n") if p.strip()][:SLACK_SECTIONS_MAX]:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": paragraph[:SLACK_SECTION_MAX]}})
    url = values["status_page_url"]
    if url.startswith(("https://", "http://")) and len(url) <= 3000:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "action_id": "status_page", "url": url,
            "text": {"type": "plain_text", "text": strings["status_page"]}}]})
    incident = values["incident"]
    facts = " · ".join(x for x in (f"{strings['incident']} {incident['reference']}".strip(),
                                   values["status_label"]) if x)
    if facts:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(facts)}]})
    text = "\n\n".join(x for x in (slack_escape(header), body) if x)
    return RenderedMessage(text=text, blocks=blocks)
