"""How a page reads on each channel. Pure: the caller passes what the incident says."""
from __future__ import annotations

from dataclasses import dataclass

from markupsafe import escape

from ..outbox.channels import RenderedMessage

SMS_TITLE = 60


@dataclass(frozen=True)
class PageFacts:
    incident_id: int
    reference: str
    severity: str
    title: str
    summary: str
    status: str
    commander: str | None
    level: str
    url: str


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def page_blocks(facts: PageFacts, *, acknowledged: str | None = None) -> list[dict]:
    """Slack Block Kit: what broke, who commands, a link, and the Acknowledge button (or who did)."""
    header = f"{facts.severity} {facts.reference}: {facts.title}"
    fields = [{"type": "mrkdwn", "text": f"*Status*\n{facts.status}"},
              {"type": "mrkdwn", "text": f"*Level*\n{facts.level}"},
              {"type": "mrkdwn", "text": f"*Commander*\n{facts.commander or 'nobody yet'}"}]
    summary = _cut(_slack_escape(facts.summary) or "_No summary yet._", 2900)
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": _cut(header, 150)}},
                          {"type": "section", "text": {"type": "mrkdwn", "text": summary}, "fields": fields}]
    if acknowledged:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f":white_check_mark: {acknowledged}"}]})
    else:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"page-{facts.incident_id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "acknowledge",
                        "value": str(facts.incident_id),
                        "style": "primary",
                        "text": {"type": "plain_text", "text": "Acknowledge"},
                    },
                    {
                        "type": "button",
                        "action_id": "open_incident",
                        "url": facts.url,
                        "text": {"type": "plain_text", "text": f"Open {facts.reference}"},
                    },
                ],
            }
        )
    return blocks


def _slack_escape(text: str) -> str:
    """Slack's own escaping for user text in mrkdwn: &, < and >."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def page_message(facts: PageFacts, channel: str) -> RenderedMessage:
    """The page as it goes out on `channel` (slack, sms or email)."""
    headline = f"{facts.severity} {facts.reference} {facts.title}"
    if channel == "slack":
        return RenderedMessage(text=f"Page: {headline}", blocks=page_blocks(facts))
    if channel == "sms":
        return RenderedMessage(
            text=f"{facts.severity} {facts.reference} {_cut(facts.title, SMS_TITLE)} "
            f"({facts.level}). Reply ACK {facts.incident_id}"
        )
    text = (
        f"{headline}\n\nLevel: {facts.level}\nStatus: {facts.status}\nCommander: {facts.commander or 'nobody yet'}\n\n"
        f"{facts.summary}\n\nAcknowledge: {facts.url}\nor reply ACK {facts.incident_id} by SMS."
    )
    html = (
        f"<h2>{escape(headline)}</h2><p><b>Level:</b> {escape(facts.level)}<br><b>Status:</b> {escape(facts.status)}"
        f"<br><b>Commander:</b> {escape(facts.commander or 'nobody yet')}</p><p>{escape(facts.summary)}</p>"
        f'<p><a href="{escape(facts.url)}">Open and acknowledge {escape(facts.reference)}</a></p>'
    )
    return RenderedMessage(text=text, subject=f"[Page] {headline}", html=html)


def acknowledged_update(facts: PageFacts, who: str, when: str) -> RenderedMessage:
    """The Slack page, edited to say who acknowledged and when."""
    note = f"Acknowledged by {who} at {when}"
    return RenderedMessage(
        text=f"{facts.severity} {facts.reference} {facts.title}: {note}", blocks=page_blocks(facts, acknowledged=note)
    )
