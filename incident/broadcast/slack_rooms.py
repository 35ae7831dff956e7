"""Per-incident Slack channels: opened on declaring a major incident, told every status update.

Everything here only queues outbox rows (no commit); the dispatcher talks to Slack.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from ..clock import utcnow
from ..extensions import db
from ..models import Incident
from .channels.slack import channel_name
from .models import Delivery

ROOM = "#incident-room"   # recipient of a post until the dispatcher knows the channel id


def room_severities() -> set[str]:
    """SLACK_INCIDENT_CHANNELS: the severities that get a channel (default SEV1,SEV2; `none`: no channels)."""
    raw = current_app.config.get("SLACK_INCIDENT_CHANNELS", "SEV1,SEV2")
    return {s.strip().upper() for s in raw.split(",") if s.strip()} - {"NONE"}


def _queue(incident: Incident, purpose: str, key: str, **values) -> None:
    now = utcnow()
    db.session.add(Delivery(purpose=purpose, dedupe_key=key, incident_id=incident.id, channel="slack",
                            status="queued", next_attempt_at=now, created_at=now, updated_at=now, **values))


def topic(incident: Incident, commander: str | None) -> str:
    return f"{incident.severity} · {incident.status} · commander: {commander or 'nobody'} · {incident.title}"[:250]


def room_name(incident: Incident) -> str:
    """The channel's name: `inc-42-login-failing-in-the-eu`, short enough to read in a sidebar."""
    return channel_name(f"inc-{incident.id}-{incident.title}"[:60])


def open_room(incident: Incident, *, commander: str | None, invite: list[str]) -> bool:
    """Queue the channel for a new incident if its severity calls for one."""
    if incident.severity not in room_severities():
        return False
    _queue(incident, "slack_room", f"room:{incident.id}", recipient=room_name(incident),
           text=topic(incident, commander), headers={"invite": [u for u in invite if u]})
    return True


def _has_room(incident: Incident) -> bool:
    return bool(incident.slack_channel_id) or db.session.scalar(select(Delivery.id).where(
        Delivery.incident_id == incident.id, Delivery.purpose == "slack_room").limit(1)) is not None


def post_to_room(incident: Incident, key: str, text: str, *, commander: str | None = None) -> None:
    """Queue a post (and a fresh topic) in the incident's channel, if it has one."""
    if not _has_room(incident):
        return
    _queue(incident, "slack_post", f"room-post:{key}", recipient=incident.slack_channel_id or ROOM, text=text,
           headers={"topic": topic(incident, commander)})


def invite_to_room(incident: Incident, key: str, slack_id: str | None) -> None:
    """Queue an invitation for a new role holder, if the incident has a channel."""
    if slack_id and _has_room(incident):
        _queue(incident, "slack_invite", f"room-invite:{key}", recipient=incident.slack_channel_id or ROOM,
               text="", headers={"invite": [slack_id]})
