"""What Slack tells Tocsin without a command: pins in an incident's channel (Events API) and ticks
in a role holder's checklist message (block_actions).

A message pinned, or marked with a :pushpin: reaction, in an incident's own channel becomes a
note on its timeline, under its author's name, once per message. A pin carries the message; a
reaction names it only, so the worker reads it from Slack (`slack_pin` outbox row) and writes
the note then. Each event is handled once, by Slack's `event_id`: retries change nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from ..auth.models import User
from ..clock import utcnow
from ..errors import AppError
from ..extensions import db
from ..incidents.models import Incident, may_see
from ..incidents.service import add_note
from ..incidents.timeline import record
from ..outbox.channels import RenderedMessage, SendResult
from ..outbox.models import Delivery
from ..outbox.purposes import Purpose, register_purpose
from ..roles import runbooks as rb
from ..roles.policy import ROLES
from ..roles.service import checklists, set_checklist_item
from ..roles.slack_checklist import parse_item_block_id, queue_checklist_refresh
from ..vocabulary import Channel, DeliveryStatus
from .slack_commands import slack_unescape
from .slack_service import SEEN, hidden_from, incident_for_channel, staff_by_slack_id

logger = logging.getLogger(__name__)
PIN_REACTION = "pushpin"
NOTE_MAX = 5000
UNKNOWN_TEXT = "(a pinned Slack message whose text Tocsin could not read)"


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Pin:
    """A message someone marked for the record: pinned, or with a :pushpin: reaction."""

    channel: str
    ts: str
    pinned_by: str
    author: str
    text: str | None      # a pin carries the message; a reaction does not
    via: str              # pin | reaction


def parse_pin(event: dict) -> Pin | None:
    """The pinned message an event is about; None for every other event."""
    item = _dict(event.get("item"))
    if event.get("type") == "pin_added" and item.get("type") in ("message", None):
        message = _dict(item.get("message"))
        text = message.get("text")
        return Pin(str(event.get("channel_id") or item.get("channel") or ""), str(message.get("ts") or item.get("ts") or ""),
                   str(event.get("user") or ""), str(message.get("user") or ""),
                   text if isinstance(text, str) else None, "pin")
    if event.get("type") == "reaction_added" and event.get("reaction") == PIN_REACTION and item.get("type") == "message":
        return Pin(str(item.get("channel") or ""), str(item.get("ts") or ""), str(event.get("user") or ""),
                   str(event.get("item_user") or ""), None, "reaction")
    return None


def handle_event(payload: dict) -> None:
    """An `event_callback`: pins and :pushpin: reactions in incident channels; anything else is ignored."""
    pin = parse_pin(_dict(payload.get("event")))
    incident = incident_for_channel(pin.channel) if pin is not None else None
    if pin is None or incident is None or not pin.ts:
        return
    event_id = payload.get("event_id")
    key = f"event:{event_id}"[:200] if isinstance(event_id, str) and event_id else None
    if not SEEN.claim(key):
        logger.info("slack event %s already handled (a retry)", event_id)
        return
    _pinned(incident, pin)
    SEEN.settle(key)


def _pinned(incident: Incident, pin: Pin) -> None:
    pinner = staff_by_slack_id(pin.pinned_by)
    if pinner is None or not pinner.can("agent") or not may_see(incident, pinner):  # as the API would
        logger.warning("slack %s in %s by %s not noted: %s", pin.via, incident.reference, pin.pinned_by,
                       "not on staff" if pinner is None else f"{pinner.email} ({pinner.role}) may not add a note")
        return
    if not SEEN.claim(f"pin:{pin.channel}:{pin.ts}"):  # pinned and marked, or pinned twice: one note
        return
    source = {"source": "slack", "via": pin.via, "channel": pin.channel, "ts": pin.ts, "pinned_by": pinner.email}
    if pin.text is not None:
        actor, source["author"] = _author(pin.author, pinner)
        add_note(actor, incident.id, _note_text(pin.text), source=source)
        return
    now = utcnow()
    db.session.add(Delivery(purpose="slack_pin", dedupe_key=f"slack-pin:{pin.channel}:{pin.ts}", incident_id=incident.id,
                            channel=Channel.SLACK, recipient=pin.channel, text=f"Read the message pinned at {pin.ts}",
                            headers={**source, "author_id": pin.author}, status=DeliveryStatus.QUEUED,
                            next_attempt_at=now, created_at=now, updated_at=now))


def _author(slack_user: str, pinner: User) -> tuple[User, str]:
    """The note's actor: the message's author when staff, else whoever pinned it; and the author's name."""
    author = staff_by_slack_id(slack_user)
    if author is not None:
        return author, author.email
    return pinner, f"Slack user {slack_user}" if slack_user else "unknown"


def _note_text(text: str) -> str:
    text = slack_unescape(text).strip()
    return (text or UNKNOWN_TEXT)[:NOTE_MAX]


def _fetch(channel, row: dict, _message: RenderedMessage) -> SendResult:
    return channel.fetch_message(row["recipient"], (row["headers"] or {}).get("ts", ""))


def _note_fetched(row: dict, result: SendResult) -> None:
    """The worker read the marked message: its note goes on the timeline (in the dispatcher's commit)."""
    source = dict(row["headers"] or {})
    incident = db.session.get(Incident, row["incident_id"])
    pinner = db.session.scalar(select(User).where(User.email == source.get("pinned_by")))
    if incident is None or pinner is None:
        return
    author_id = str(getattr(result, "user", "") or source.pop("author_id", "") or "")
    source.pop("author_id", None)
    actor, source["author"] = _author(author_id, pinner)
    record(incident, "note", actor, {"text": _note_text(str(getattr(result, "text", "") or "")), **source})


register_purpose("slack_pin", Purpose(send=_fetch, on_sent=_note_fetched))


# Ticks from a checklist message ------------------------------------------------------------------

def tick_from_slack(payload: dict, action: dict) -> None:
    """A tick box in a role holder's checklist message: tick (or untick) the item in Tocsin, as they."""
    user_info = _dict(payload.get("user"))
    slack_user = str(user_info.get("id") or "")
    found = parse_item_block_id(str(action.get("block_id") or ""))
    if found is None:
        return
    incident_id, runbook, item = found
    trigger = payload.get("trigger_id") or f"{slack_user}:{action.get('action_ts')}"
    key = f"tick:{trigger}"[:200]
    if not SEEN.claim(key):
        return
    checked = bool(action.get("selected_options"))
    user = staff_by_slack_id(slack_user)
    try:
        if user is None:
            raise AppError("You are not on Tocsin's staff, so Tocsin cannot tick this for you.")
        if hidden_from(incident_id, user):
            raise AppError(f"Tocsin has no incident INC-{incident_id}.")
        set_checklist_item(user, incident_id, runbook=runbook, item=item, checked=checked)
    except AppError as error:
        db.session.rollback()
        SEEN.claim(key)
        logger.warning("slack checklist tick on INC-%s by %s refused: %s", incident_id, slack_user, error.message)
        _refresh(payload, incident_id, runbook, key, f"Not {'ticked' if checked else 'unticked'}: {error.message}")
    SEEN.settle(key)


def _refresh(payload: dict, incident_id: int, runbook: str, key: str, note: str) -> None:
    """Redraw the message as Tocsin has it, so a refused tick does not look done."""
    container = _dict(payload.get("container"))
    channel, ts = container.get("channel_id"), container.get("message_ts")
    incident = db.session.get(Incident, incident_id)
    book = next((b for b in rb.get_runbooks() if b.slug == runbook), None)
    if incident is None or book is None or not channel or not ts:
        return
    role = next((r for r in checklists(incident, [r for r in book.roles if r in ROLES])
                 if any(b["slug"] == runbook for b in r["runbooks"])), None)
    if role is not None:
        queue_checklist_refresh(incident, key, to=str(channel), ref=f"{channel}:{ts}", role=role, runbook=runbook,
                                note=note)
