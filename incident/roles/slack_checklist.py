"""A new crisis-role holder's runbook checklists, as Slack direct messages they can tick.

One message per runbook, each item with a tick box (`checklist_tick`); a click comes back to
`POST /slack/interactions` and ticks the item in Tocsin. Everything here only queues outbox rows
(no commit); the block building is pure.
"""
from __future__ import annotations

from flask import current_app

from ..auth.models import User
from ..clock import utcnow
from ..extensions import db
from ..incidents.models import Incident
from ..outbox.models import Delivery
from ..vocabulary import Channel, DeliveryStatus

ACTION = "checklist_tick"
DONE = "done"
MAX_BLOCKS = 50          # Slack's limit for one message
BLOCK_PREFIX = "chk"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def item_block_id(incident_id: int, runbook: str, key: str) -> str:
    return f"{BLOCK_PREFIX}:{incident_id}:{runbook}:{key}"


def parse_item_block_id(block_id: str) -> tuple[int, str, str] | None:
    """(incident id, runbook, item key) from a tick box's block id; None for any other block."""
    parts = block_id.split(":")
    if len(parts) != 4 or parts[0] != BLOCK_PREFIX or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2], parts[3]


def checklist_blocks(*, incident_id: int, reference: str, url: str, role_label: str, book: dict,
                     note: str | None = None) -> list[dict]:
    """A runbook's checklist (as `roles.service.checklists` gives it) in Block Kit, one tick box an item."""
    done = {"text": {"type": "mrkdwn", "text": "Done"}, "value": DONE}
    header = _cut(f"{reference} · {role_label}: {book['title']}", 150)
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(
            f"{_escape(book['summary'])} <{url}|Open {reference}>", 3000)}]}]
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(_escape(note), 3000)}]})
    room = MAX_BLOCKS - len(blocks) - 1
    for section in book["sections"]:
        rows: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{_escape(section['title'])}*"}}]
        for item in section["items"]:
            box = {"type": "checkboxes", "action_id": ACTION, "options": [done]}
            if item["checked"]:
                box["initial_options"] = [done]
            rows.append({"type": "section", "block_id": item_block_id(incident_id, book["slug"], item["key"]),
                         "text": {"type": "mrkdwn", "text": _cut(_escape(item["text"]), 3000)}, "accessory": box})
        if len(rows) > room:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn",
                                                            "text": f"More on the incident page: <{url}|{reference}>"}]})
            return blocks
        blocks += rows
        room -= len(rows)
    return blocks


def _facts(incident: Incident) -> dict:
    return {"incident_id": incident.id, "reference": incident.reference,
            "url": f"{current_app.config['PUBLIC_BASE_URL']}/incidents/{incident.id}"}


def _row(incident: Incident, *, purpose: str, key: str, to: str, blocks: list[dict], text: str,
         ref: str | None = None) -> Delivery:
    now = utcnow()
    return Delivery(purpose=purpose, dedupe_key=key, incident_id=incident.id, channel=Channel.SLACK, recipient=to,
                    text=text, blocks=blocks, ref=ref, status=DeliveryStatus.QUEUED, next_attempt_at=now,
                    created_at=now, updated_at=now)


def queue_checklists(incident: Incident, key: str, user: User, role: dict) -> int:
    """A direct message per runbook of the role (`checklists()` entry) to its new holder; how many."""
    if not user.slack_id:
        return 0
    for book in role["runbooks"]:
        blocks = checklist_blocks(**_facts(incident), role_label=role["label"], book=book)
        db.session.add(_row(incident, purpose="role_checklist", key=f"checklist:{key}:{book['slug']}",
                            to=user.slack_id, blocks=blocks,
                            text=f"{incident.reference}: your checklist as {role['label']} — {book['title']}"))
    return len(role["runbooks"])


def queue_checklist_refresh(incident: Incident, key: str, *, to: str, ref: str, role: dict, runbook: str,
                            note: str) -> None:
    """Redraw a checklist message as Tocsin has it (a tick it refused is undone), with a note why."""
    for book in role["runbooks"]:
        if book["slug"] == runbook:
            blocks = checklist_blocks(**_facts(incident), role_label=role["label"], book=book, note=note)
            db.session.add(_row(incident, purpose="role_checklist", key=f"checklist-refresh:{key}"[:200], to=to,
                                ref=ref, blocks=blocks, text=f"{incident.reference}: {note}"))
            return
