"""Per-incident Slack channels: opened on declaring a major incident, told every status update.

Everything here only queues outbox rows (no commit); the dispatcher talks to Slack, through the
hooks registered at the bottom of this module (opening the channel, posting before its id is
known, recording the id Slack gave it).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from ..clock import utcnow
from ..extensions import db
from ..outbox.channels import Channel, RenderedMessage, SendResult
from ..outbox.channels.slack import channel_name
from ..outbox.models import Delivery
from ..outbox.purposes import Purpose, register_purpose
from ..vocabulary import DeliveryStatus
from .models import Incident
from .signals import incident_changed, incident_resolved
from .timeline import record

ROOM = "#incident-room"   # recipient of a post until the dispatcher knows the channel id


def room_severities() -> set[str]:
    """SLACK_INCIDENT_CHANNELS: the severities that get a channel (default SEV1,SEV2; `none`: no channels)."""
    return set(current_app.config["SLACK_INCIDENT_CHANNELS"])


def _queue(incident: Incident, purpose: str, key: str, *, at: datetime | None = None, **values) -> None:
    now = utcnow()
    db.session.add(Delivery(purpose=purpose, dedupe_key=key, incident_id=incident.id, channel="slack",
                            status="queued", next_attempt_at=at or now, created_at=now, updated_at=now, **values))


def topic(incident: Incident, commander: str | None) -> str:
    return f"{incident.severity} · {incident.status} · commander: {commander or 'nobody'} · {incident.title}"[:250]


def room_name(incident: Incident) -> str:
    """The channel's name: `inc-42-login-failing-in-the-eu`, short enough to read in a sidebar."""
    return channel_name(f"inc-{incident.id}-{incident.title}"[:60])


def open_room(incident: Incident, *, commander: str | None, invite: list[str | None]) -> bool:
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


# Archiving the channel after the incident is resolved.

ARCHIVE_AFTER_LAST_MESSAGE = timedelta(minutes=1)   # the last message goes first


def archive_text(incident: Incident) -> str:
    """The channel's last message: the incident is over, the review is where the work goes on."""
    base = current_app.config["PUBLIC_BASE_URL"]
    return (f"*{incident.reference}* was resolved; this channel is now archived. "
            f"The post-incident review: <{base}/incidents/{incident.id}/review|{incident.reference} review>")


@incident_resolved.connect
def _schedule_archive(incident: Incident, **_) -> None:
    """SLACK_ARCHIVE_AFTER_HOURS after resolving: queue the last message and the archiving (0: never)."""
    hours = current_app.config["SLACK_ARCHIVE_AFTER_HOURS"]
    if not hours or not _has_room(incident):
        return
    at = (incident.resolved_at or utcnow()) + timedelta(hours=hours)
    stamp, room = int(at.timestamp()), incident.slack_channel_id or ROOM
    last = f"room-post:archive:{incident.id}:{stamp}"
    _queue(incident, "slack_post", last, at=at, recipient=room, text=archive_text(incident))
    _queue(incident, "slack_archive", f"room-archive:{incident.id}:{stamp}", at=at + ARCHIVE_AFTER_LAST_MESSAGE,
           recipient=room, text="", headers={"after": last})


@incident_changed.connect
def _keep_open_rooms(incident_id: int, **_) -> None:
    """A reopened incident keeps its channel: the archiving queued on resolving is called off."""
    incident = db.session.get(Incident, incident_id)
    if incident is None or not incident.is_open:
        return
    db.session.execute(update(Delivery).where(
        Delivery.incident_id == incident_id, Delivery.status == DeliveryStatus.QUEUED,
        or_(Delivery.purpose == "slack_archive", Delivery.dedupe_key.like(f"room-post:archive:{incident_id}:%")))
        .values(status=DeliveryStatus.CANCELLED, error="reopened before archiving", updated_at=utcnow())
        .execution_options(synchronize_session=False))


# How the dispatcher sends these rows.

def _fill_in_rooms(rows: list[dict]) -> None:
    """Each row's `room`: the channel id Slack gave the incident, if it has one yet."""
    ids = {row["incident_id"] for row in rows if row["incident_id"] is not None}
    rooms = dict(db.session.execute(select(Incident.id, Incident.slack_channel_id).where(Incident.id.in_(ids)))
                 .tuples().all()) if ids else {}
    for row in rows:
        row["room"] = rooms.get(row["incident_id"])


def _open(channel: Channel, row: dict, _message: RenderedMessage) -> SendResult:
    """Create the incident's Slack channel, invite the people, set the topic."""
    created = channel.create_channel(row["recipient"])  # type: ignore[attr-defined]
    if created.ok:
        invited = channel.invite(created.provider_id, (row["headers"] or {}).get("invite", []))  # type: ignore[attr-defined]
        if not invited.ok and invited.retryable:
            return invited
        channel.set_topic(created.provider_id, row["text"])  # type: ignore[attr-defined]
    return created


def _post(channel: Channel, row: dict, message: RenderedMessage) -> SendResult:
    """Post (or invite) into the room, once the room's id is known."""
    headers = row["headers"] or {}
    to = row["room"] if row["recipient"] == ROOM else row["recipient"]
    if not to:
        return SendResult(ok=False, error="room_not_ready", retryable=True)
    if row["purpose"] == "slack_invite":
        return channel.invite(to, headers.get("invite", []))  # type: ignore[attr-defined]
    if headers.get("topic"):
        channel.set_topic(to, headers["topic"])  # type: ignore[attr-defined]
    if row["ref"] and hasattr(channel, "update"):
        return channel.update(row["ref"], message)
    return channel.send(to, message)


def _fill_in_archives(rows: list[dict]) -> None:
    """Each archiving row's room, and whether its last message is still to go."""
    _fill_in_rooms(rows)
    for row in rows:
        after = (row["headers"] or {}).get("after")
        row["waiting"] = after is not None and db.session.scalar(select(Delivery.id).where(
            Delivery.dedupe_key == after, Delivery.status.in_((DeliveryStatus.QUEUED, DeliveryStatus.SENDING)))) is not None


def _archive(channel: Channel, row: dict, _message: RenderedMessage) -> SendResult:
    """conversations.archive, once the last message has gone."""
    if row["waiting"]:
        return SendResult(ok=False, error="last_message_pending", retryable=True)
    to = row["room"] if row["recipient"] == ROOM else row["recipient"]
    if not to:
        return SendResult(ok=False, error="room_not_ready", retryable=True)
    return channel.archive(to)  # type: ignore[attr-defined]


def _record_archive(row: dict, result: SendResult) -> None:
    incident = db.session.get(Incident, row["incident_id"])
    if incident is not None:
        record(incident, "slack_channel_archived", None, {"channel": result.provider_id})


def _record_room(row: dict, result: SendResult) -> None:
    db.session.execute(update(Incident).where(Incident.id == row["incident_id"])
                       .values(slack_channel_id=result.provider_id))


register_purpose("slack_room", Purpose(send=_open, on_sent=_record_room))
register_purpose("slack_post", Purpose(prepare=_fill_in_rooms, send=_post))
register_purpose("slack_invite", Purpose(prepare=_fill_in_rooms, send=_post))
register_purpose("slack_archive", Purpose(prepare=_fill_in_archives, send=_archive, on_sent=_record_archive))
