"""A subscriber's own page, reached by the signed link in every status message: which components
they follow, or leave. No account: the link is the authority (customers.links)."""
from __future__ import annotations

import logging

from sqlalchemy import select, update

from ..catalog import Service
from ..clock import utcnow
from ..customers import service as customers
from ..customers.links import read_manage_token
from ..customers.models import Customer
from ..dbutil import execute_dml
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..outbox.models import Delivery
from ..uow import use_case
from ..vocabulary import DeliveryStatus
from . import policy
from .models import StatusComponent

logger = logging.getLogger(__name__)
NOTICES = ("status_update", "maintenance")   # what a subscriber who leaves no longer gets, from now


def subscriber(token: str) -> tuple[Customer, str]:
    """The customer and channel a manage link is for; NotFound for a forged link or one whose customer is gone."""
    customer_id, channel = read_manage_token(token)
    customer = db.session.get(Customer, customer_id)
    if customer is None or channel not in policy.SUBSCRIBER_CHANNELS:
        raise NotFound("This link is not valid.", code="bad_manage_link")
    return customer, channel


def components() -> list[StatusComponent]:
    """The components one can follow (groups are headings, not subscriptions), in page order."""
    return list(db.session.scalars(select(StatusComponent).where(StatusComponent.is_group.is_(False))
                                   .order_by(StatusComponent.position, StatusComponent.id)))


def followed(customer: Customer) -> set[int]:
    """The ids of the components whose service the customer follows."""
    services = {s.id for s in customer.services}
    return {c.id for c in components() if c.service_id in services}


def _page_services() -> set[int]:
    return {c.service_id for c in components() if c.service_id}


@use_case
def choose_components(token: str, component_ids: list) -> Customer:
    """Follow exactly these components (services the page does not show are kept); email comes back on."""
    customer, channel = subscriber(token)
    try:
        wanted = {int(i) for i in component_ids}
    except (TypeError, ValueError):
        raise ValidationFailed("Unknown component.", details={"components": "unknown"}) from None
    chosen = [c for c in components() if c.id in wanted]
    if len(chosen) != len(wanted):
        raise ValidationFailed("Unknown component.", details={"components": "unknown"})
    if not chosen:
        raise ValidationFailed("Tick at least one component, or leave.", details={"components": "none"},
                               code="no_components")
    on_page = _page_services()
    keep = [s for s in customer.services if s.id not in on_page]
    service_ids = {c.service_id for c in chosen if c.service_id}
    new = list(db.session.scalars(select(Service).where(Service.id.in_(service_ids))))
    customer.services = sorted({s.id: s for s in [*keep, *new]}.values(), key=lambda s: s.name)
    if channel == "email" and "email" in (customer.opted_out or []):
        customers.opt_in(customer.id, "email", how="subscription_page")   # asked for by the customer, from their own link
    logger.info("subscriber %s now follows %s components", customer.id, len(chosen))
    return customer


@use_case
def leave(token: str) -> tuple[Customer, str]:
    """Follow nothing on the page any more, and take no more messages on this channel."""
    customer, channel = subscriber(token)
    on_page = _page_services()
    customer.services = [s for s in customer.services if s.id not in on_page]
    db.session.flush()
    customers.opt_out(customer.id, channel, how="subscription_page")
    db.session.expire(customer, ["opted_out"])
    execute_dml(update(Delivery).where(Delivery.customer_id == customer.id, Delivery.channel == channel,
                                       Delivery.purpose.in_(NOTICES), Delivery.status == DeliveryStatus.QUEUED)
                .values(status=DeliveryStatus.CANCELLED, error="the subscriber left", updated_at=utcnow())
                .execution_options(synchronize_session=False))
    logger.info("subscriber %s left (%s)", customer.id, channel)
    return customer, channel
