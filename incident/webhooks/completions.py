"""`broadcast.completed`: a send of a broadcast whose messages have all settled (sent, delivered,
failed, skipped or cancelled), announced once per endpoint. The outbox has no moment when a send
finishes, so the webhooks job looks for such sends among those prepared in the last day."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from ..broadcast.models import Broadcast, BroadcastSend
from ..clock import utcnow
from ..extensions import db
from ..incidents.models import Incident
from ..incidents.visibility import public_incidents
from ..outbox.models import Delivery
from ..uow import use_case
from ..vocabulary import DeliveryStatus, SendStatus
from .events import incident_view
from .models import WebhookMessage
from .service import emit, list_endpoints

EVENT = "broadcast.completed"
LOOK_BACK = timedelta(days=1)
PENDING = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


def event_id(send_id: int) -> str:
    """The same id each time the send is found complete: the event is queued once per endpoint."""
    return f"msg_broadcast_completed_{send_id}"


@use_case
def queue_completions() -> int:
    """Queue `broadcast.completed` for sends that have just settled; returns how many sends."""
    endpoints = [e for e in list_endpoints() if EVENT in (e.events or [])]
    if not endpoints:
        return 0
    since = max(utcnow() - LOOK_BACK, min(e.created_at for e in endpoints))
    pending = select(Delivery.id).where(Delivery.send_id == BroadcastSend.id, Delivery.status.in_(PENDING)).exists()
    sends = db.session.execute(
        select(BroadcastSend, Broadcast, Incident).join(Broadcast, Broadcast.id == BroadcastSend.broadcast_id)
        .join(Incident, Incident.id == Broadcast.incident_id)
        .where(BroadcastSend.status == SendStatus.QUEUED, BroadcastSend.prepared_at >= since, ~pending,
               public_incidents())).all()   # a private incident's news never leaves Tocsin
    announced = set(db.session.scalars(select(WebhookMessage.event_id).where(
        WebhookMessage.event_id.in_([event_id(s.id) for s, _, _ in sends]))))
    done = 0
    for send, broadcast, incident in sends:
        if event_id(send.id) in announced:
            continue
        counts: dict[str, int] = {status: n for status, n in db.session.execute(
            select(Delivery.status, func.count()).where(Delivery.send_id == send.id).group_by(Delivery.status))}
        emit(EVENT, {"incident": incident_view(incident), "broadcast": {
            "id": broadcast.id, "kind": broadcast.kind, "send": send.number, "recipients": send.recipients,
            "counts": {str(k): v for k, v in counts.items()}}}, event_id=event_id(send.id))
        done += 1
    return done

