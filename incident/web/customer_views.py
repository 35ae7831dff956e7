"""What the customer page shows of the rest of Tocsin: the customer's tickets, the incidents that
touched them, and the broadcast messages they were sent. Reads only, newest first, a page each;
a private incident the reader may not see is left out (and its messages), as on the outbox page."""
from __future__ import annotations

from sqlalchemy import func, or_, select, union
from sqlalchemy.orm import selectinload

from ..broadcast.models import Broadcast, BroadcastSend
from ..customers.models import Customer, customer_services
from ..extensions import db
from ..incidents.models import Incident, incident_services
from ..incidents.visibility import visible, visible_ids
from ..outbox.models import Delivery
from ..tickets.models import Ticket
from .masking import shown_address

SHOWN = 50   # of each list; the page says how many there are in all


def customer_tickets(customer_id: int) -> tuple[list[Ticket], int, set[int]]:
    """The helpdesk tickets this customer is the requester of, newest first; how many; and which of
    their incidents the reader may see (the others are not named)."""
    rows = db.session.scalars(select(Ticket).where(Ticket.customer_id == customer_id)
                              .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(SHOWN)).all()
    total = db.session.scalar(select(func.count()).select_from(Ticket).where(Ticket.customer_id == customer_id))
    linked = {t.incident_id for t in rows if t.incident_id}
    shown = set(db.session.scalars(select(Incident.id).where(Incident.id.in_(linked), visible()))) if linked else set()
    return list(rows), total or 0, shown


def customer_incidents(customer: Customer) -> list[dict]:
    """Incidents their tickets are linked to, and incidents on services they subscribe to, newest first,
    each with why it is listed."""
    by_ticket = (select(Ticket.incident_id.label("incident_id"))
                 .where(Ticket.customer_id == customer.id, Ticket.incident_id.is_not(None)))
    by_service = (select(incident_services.c.incident_id.label("incident_id"))
                  .join(customer_services, customer_services.c.service_id == incident_services.c.service_id)
                  .where(customer_services.c.customer_id == customer.id))
    ids = union(by_ticket, by_service).subquery()
    incidents = db.session.scalars(select(Incident).where(Incident.id.in_(select(ids.c.incident_id)), visible())
                                   .options(selectinload(Incident.services))
                                   .order_by(Incident.declared_at.desc(), Incident.id.desc()).limit(SHOWN)).all()
    linked = set(db.session.scalars(by_ticket.where(Ticket.incident_id.in_([i.id for i in incidents]))))
    theirs = {s.name for s in customer.services}
    return [{"incident": i, "by_ticket": i.id in linked,
             "services": sorted(theirs & {s.name for s in i.services})} for i in incidents]


def customer_messages(customer_id: int, *, reveal: bool) -> tuple[list[dict], int]:
    """The broadcast messages queued for this customer (sent, failed or skipped), newest first, with
    the address masked unless `reveal`; and how many in all."""
    theirs = (Delivery.customer_id == customer_id, Delivery.purpose == "broadcast",
              or_(Delivery.incident_id.is_(None), Delivery.incident_id.in_(visible_ids())))
    query = (select(Delivery, Broadcast.kind, BroadcastSend.number)
             .outerjoin(BroadcastSend, BroadcastSend.id == Delivery.send_id)
             .outerjoin(Broadcast, Broadcast.id == BroadcastSend.broadcast_id).where(*theirs))
    rows = db.session.execute(query.order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(SHOWN)).all()
    total = db.session.scalar(select(func.count()).select_from(Delivery).where(*theirs))
    return [{"delivery": d, "kind": kind, "send": number,
             "to": shown_address(d.channel, d.recipient, reveal=reveal)} for d, kind, number in rows], total or 0
