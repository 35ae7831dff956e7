"""Status page use cases for staff (components, incident impact, maintenance) and the worker's
jobs (windows that start and complete on their own, notices before they start)."""
from __future__ import annotations

import logging
import re
from datetime import datetime

from flask import current_app
from sqlalchemy import delete, func, select, update

from .. import audit, locales
from ..auth.models import User
from ..catalog import ensure_services
from ..clock import utcnow
from ..customers.links import manage_url
from ..customers.models import Customer, customer_services
from ..dbutil import execute_dml, insert_ignoring_conflicts
from ..errors import NotFound, ValidationFailed
from ..extensions import db
from ..incidents.models import Incident
from ..incidents.timeline import record
from ..outbox.models import Delivery
from ..uow import use_case
from ..validation import MAX_KEY
from ..vocabulary import AuditKind
from . import i18n, policy
from .history import record_open_incidents
from .hooks import bump_version, incident_changed, is_published
from .models import Maintenance, MaintenanceUpdate, StatusComponent, StatusIncident, StatusIncidentComponent
from .notify import email_headers

logger = logging.getLogger(__name__)
COMPONENT_FIELDS = ("name", "description", "position", "is_group", "group_id", "service_id", "only_show_if_degraded")


class ComponentNotFound(NotFound):
    def __init__(self, component_id):
        super().__init__(f"No status page component {component_id}.", code="component_not_found")


class MaintenanceNotFound(NotFound):
    def __init__(self, maintenance_id):
        super().__init__(f"No maintenance {maintenance_id}.", code="maintenance_not_found")


def _get(model, key, error):
    try:
        number = int(key)
    except (TypeError, ValueError):
        number = 0
    row = db.session.get(model, number) if 0 < number <= MAX_KEY else None
    if row is None:
        raise error(key)
    return row


def get_component_or_raise(component_id) -> StatusComponent:
    return _get(StatusComponent, component_id, ComponentNotFound)


def get_maintenance_or_raise(maintenance_id) -> Maintenance:
    return _get(Maintenance, maintenance_id, MaintenanceNotFound)


def list_components() -> list[StatusComponent]:
    """Every component and group, in page order."""
    return list(db.session.scalars(select(StatusComponent).order_by(StatusComponent.position, StatusComponent.id)))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")[:63] or "component"


def _next_position() -> int:
    return (db.session.scalar(select(func.max(StatusComponent.position))) or 0) + 1


def _group(name: str | None) -> StatusComponent | None:
    if not name:
        return None
    group = db.session.scalar(select(StatusComponent).where(StatusComponent.is_group.is_(True),
                                                            StatusComponent.name == name))
    if group is None:
        now = utcnow()
        group = StatusComponent(name=name, is_group=True, position=_next_position(), created_at=now, updated_at=now)
        db.session.add(group)
        db.session.flush()
        audit.record(None, AuditKind.STATUS_COMPONENT, f"{group.id} {name}", None, _audit_view(group))
    return group


@use_case
def create_component(actor: User, *, name: str, description: str = "", group: str | None = None,
                     position: int | None = None, service: str | None = None,
                     only_show_if_degraded: bool = False) -> StatusComponent:
    """Add a component to the page; it follows the incidents of its service (default: its name)."""

    now = utcnow()
    parent = _group(group)
    component = StatusComponent(name=name, description=description, group_id=parent.id if parent else None,
                                position=_next_position() if position is None else position,
                                service_id=ensure_services([service or _slug(name)])[0].id,
                                only_show_if_degraded=only_show_if_degraded, created_at=now, updated_at=now)
    db.session.add(component)
    record_open_incidents()   # an open incident on its service touches it from now on (flushes: the id is known)
    audit.record(actor, AuditKind.STATUS_COMPONENT, f"{component.id} {name}", None, _audit_view(component))
    bump_version()
    logger.info("status component %s added by %s", name, actor.email)
    return component


@use_case
def edit_component(actor: User, component_id, changes: dict) -> StatusComponent:
    """Rename, describe, regroup, reorder a component, or point it at another service."""
    component = get_component_or_raise(component_id)
    before = _audit_view(component)
    for field in ("name", "description", "position", "only_show_if_degraded"):
        if field in changes:
            setattr(component, field, changes[field])
    if "group" in changes:
        parent = _group(changes["group"])
        component.group_id = parent.id if parent else None
    if changes.get("service") and not component.is_group:
        component.service_id = ensure_services([changes["service"]])[0].id
        record_open_incidents()   # open incidents now touch it, or no longer do
    component.updated_at = utcnow()
    audit.record(actor, AuditKind.STATUS_COMPONENT, f"{component.id} {component.name}", before, _audit_view(component))
    bump_version()
    return component


def _audit_view(component: StatusComponent) -> dict:
    return audit.snapshot(component, COMPONENT_FIELDS)


@use_case
def delete_component(actor: User, component_id) -> None:
    """Take a component off the page (its history goes with it)."""
    component = get_component_or_raise(component_id)
    audit.record(actor, AuditKind.STATUS_COMPONENT, f"{component.id} {component.name}", _audit_view(component), None)
    db.session.delete(component)
    bump_version()
    logger.info("status component %s removed by %s", component.name, actor.email)


def impact_view(incident: Incident) -> dict:
    """How the incident reads on the page: its impact and each component's state, with what staff set."""
    setting = db.session.get(StatusIncident, incident.id)
    overrides = {row.component_id: row.status for row in db.session.scalars(
        select(StatusIncidentComponent).where(StatusIncidentComponent.incident_id == incident.id))}
    service_ids = {s.id for s in incident.services}
    components = []
    for c in list_components():
        derived = c.service_id in service_ids and not c.is_group
        if c.id in overrides or derived:
            components.append({"id": c.id, "name": c.name, "overridden": c.id in overrides,
                               "status": overrides.get(c.id) or policy.component_impact(incident.severity, None)})
    return {"incident_id": incident.id, "published": is_published(incident.id),
            "impact": policy.incident_impact(incident.severity, setting.impact if setting else None),
            "impact_overridden": bool(setting and setting.impact), "components": components}


@use_case
def set_incident_impact(actor: User, incident_id, *, impact: str | None = None, impact_given: bool = False,
                        components: dict[int, str | None] | None = None) -> dict:
    """Override the incident's impact and its components' states (None: back to the derived one)."""
    incident = Incident.get_or_raise(incident_id)
    now = utcnow()
    if impact_given:
        setting = db.session.get(StatusIncident, incident.id) or StatusIncident(incident_id=incident.id)
        setting.impact, setting.updated_at = impact, now
        db.session.add(setting)
    for component_id, status in (components or {}).items():
        if get_component_or_raise(component_id).is_group:
            raise ValidationFailed("A group's state follows its components.", details={"components": component_id})
        db.session.execute(delete(StatusIncidentComponent).where(
            StatusIncidentComponent.incident_id == incident.id, StatusIncidentComponent.component_id == component_id))
        if status is not None:
            db.session.add(StatusIncidentComponent(incident_id=incident.id, component_id=component_id, status=status))
    record(incident, "status_impact_changed", actor,
           {"impact": impact if impact_given else "unchanged",
            "components": {str(k): v for k, v in (components or {}).items()}})
    incident_changed(incident.id)
    return impact_view(incident)


def _expand(component_ids: list[int]) -> list[StatusComponent]:
    chosen: list[StatusComponent] = []
    for component_id in component_ids:
        component = get_component_or_raise(component_id)
        if component.is_group:
            chosen += db.session.scalars(select(StatusComponent).where(StatusComponent.group_id == component.id))
        else:
            chosen.append(component)
    return list({c.id: c for c in chosen}.values())


@use_case
def schedule_maintenance(actor: User, *, name: str, message: str = "", scheduled_for: datetime,
                         scheduled_until: datetime, components: list[int], notify_minutes_before: int = 60
                         ) -> Maintenance:
    """Plan a window on some components; it starts, completes and notifies on its own."""
    if scheduled_until <= scheduled_for:
        raise ValidationFailed("The window must end after it starts.",
                               details={"scheduled_until": "must be after scheduled_for"})
    now = utcnow()
    if scheduled_until <= now:
        raise ValidationFailed("The window is already over.", details={"scheduled_until": "in the past"})
    maintenance = Maintenance(name=name, message=message, scheduled_for=scheduled_for,
                              scheduled_until=scheduled_until, status="scheduled",
                              notify_minutes_before=notify_minutes_before, created_by_id=actor.id,
                              created_at=now, updated_at=now)
    maintenance.components = _expand(components)
    db.session.add(maintenance)
    db.session.flush()
    db.session.add(MaintenanceUpdate(maintenance_id=maintenance.id, status="scheduled", body=message, created_at=now))
    bump_version()
    logger.info("maintenance %s scheduled by %s", maintenance.id, actor.email)
    return maintenance


@use_case
def cancel_maintenance(actor: User, maintenance_id) -> Maintenance:
    """Call a window off: it leaves the page, notices not sent yet are recalled, and whoever was
    already told (or is being told right now) hears that it is off, once, in the same words."""
    maintenance = get_maintenance_or_raise(maintenance_id)
    if maintenance.status in ("completed", "cancelled"):
        raise ValidationFailed(f"The maintenance is already {maintenance.status}.", code="invalid_transition")
    now = utcnow()
    maintenance.status, maintenance.updated_at = "cancelled", now
    recalled, told = _recall_notices(maintenance, now)
    bump_version()
    logger.info("maintenance %s cancelled by %s: %s notices recalled, %s told it is off",
                maintenance.id, actor.email, recalled, told)
    return maintenance


def _recall_notices(m: Maintenance, now: datetime) -> tuple[int, int]:
    """Cancel the window's queued notices; queue a 'called off' message to each one sent or in flight."""
    notices = [Delivery.purpose == "maintenance", Delivery.dedupe_key.like(f"maintenance:{m.id}:customer:%")]
    recalled = execute_dml(update(Delivery).where(*notices, Delivery.status == "queued")
                                  .values(status="cancelled", error="maintenance called off", updated_at=now)
                                  .execution_options(synchronize_session=False)).rowcount
    told = db.session.execute(select(Delivery.customer_id, Delivery.channel, Delivery.recipient, Customer.locale)
                              .join(Customer, Customer.id == Delivery.customer_id)
                              .where(*notices, Delivery.status.in_(("sending", "sent", "delivered")))).all()
    _queue_messages([_message_row(m, "cancelled", customer_id, channel, recipient, locale, now)
                     for customer_id, channel, recipient, locale in told])
    return recalled, len(told)


def list_maintenances() -> list[Maintenance]:
    """Every window, the latest first."""
    return list(db.session.scalars(select(Maintenance).order_by(Maintenance.scheduled_for.desc(), Maintenance.id.desc())))


@use_case
def advance_maintenances() -> int:
    """Move windows to in progress and completed as the clock passes; returns how many moved."""
    now = utcnow()
    moved = 0
    for m in db.session.scalars(select(Maintenance).where(Maintenance.status.in_(("scheduled", "in_progress")))
                                .with_for_update(skip_locked=True)):
        target = policy.maintenance_state(m.status, m.scheduled_for, m.scheduled_until, now)
        if target == m.status:
            continue
        if m.status == "scheduled":
            m.started_at = min(now, m.scheduled_until)
            if target == "completed":
                db.session.add(MaintenanceUpdate(maintenance_id=m.id, status="in_progress", created_at=m.started_at))
        if target == "completed":
            m.completed_at = now
        m.status, m.updated_at = target, now
        db.session.add(MaintenanceUpdate(maintenance_id=m.id, status=target, created_at=now))
        moved += 1
    if moved:
        bump_version()
    return moved


def _message_row(m: Maintenance, kind: str, customer_id: int, channel: str, recipient: str, locale: str | None,
                 now: datetime) -> dict:
    """One outbox row telling a subscriber about a window: `notice` (it is coming) or `cancelled`, in their
    language, with the link to their own page (change components, or leave)."""
    tag, locale = locale, locales.language_for(locale)
    when = {"start": i18n.format_when(m.scheduled_for, tag), "end": i18n.format_when(m.scheduled_until, tag)}
    link = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/") + "/status"
    if kind == "notice":
        names = ", ".join(c.name for c in m.components)
        text = i18n.t(locale, "notice.text", name=m.name, **when, link=link,
                      components=i18n.t(locale, "notice.components", names=names) if names else "",
                      message=f"\n\n{m.message}" if m.message else "")
        key = f"maintenance:{m.id}:customer:{customer_id}"
    else:
        text = i18n.t(locale, "cancelled.text", name=m.name, **when, link=link)
        key = f"maintenance:{m.id}:cancelled:{customer_id}"
    manage = i18n.t(locale, "footer.manage", link=manage_url(customer_id, channel))
    text = f"{text}\n\n--\n{manage}" if channel == "email" else f"{text} {manage}"
    return {
        "purpose": "maintenance",
        "dedupe_key": key,
        "customer_id": customer_id,
        "channel": channel,
        "recipient": recipient,
        "subject": i18n.t(locale, f"{kind}.subject", name=m.name)[:300],
        "text": text,
        "headers": email_headers(customer_id, locale) if channel == "email" else None,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
        "sandbox": False,
    }


def _queue_messages(rows: list[dict]) -> None:
    """Into the outbox, once each (a dedupe key already there is left alone). No commit."""
    for start in range(0, len(rows), 1000):
        db.session.execute(insert_ignoring_conflicts(Delivery, ["dedupe_key"]), rows[start : start + 1000])


def _notice_rows(m: Maintenance, now: datetime) -> list[dict]:
    service_ids = {c.service_id for c in m.components if c.service_id}
    if not service_ids:
        return []
    customers = db.session.scalars(
        select(Customer).where(
            Customer.id.in_(select(customer_services.c.customer_id).where(customer_services.c.service_id.in_(service_ids)))
        )
    )
    rows = []
    for customer in customers:
        channel = next(
            (
                c
                for c in (customer.channels or [])
                if c in ("email", "sms") and c not in (customer.opted_out or []) and customer.address(c)
            ),
            None,
        )
        if channel is not None:
            recipient = customer.address(channel)
            assert recipient is not None  # the channel was chosen for having an address
            rows.append(_message_row(m, "notice", customer.id, channel, recipient, customer.locale, now))
    return rows


@use_case
def queue_maintenance_notices() -> int:
    """Queue one outbox row per subscriber of a window's components, once, before it starts."""
    now = utcnow()
    queued = 0
    due = db.session.scalars(
        select(Maintenance)
        .where(Maintenance.status.in_(("scheduled", "in_progress")), Maintenance.notice_queued_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    for m in due:
        if not policy.notice_due(m.scheduled_for, m.scheduled_until, m.notify_minutes_before, now):
            continue
        rows = _notice_rows(m, now)
        _queue_messages(rows)
        m.notice_queued_at = now
        queued += len(rows)
        logger.info("maintenance %s: %s notices queued", m.id, len(rows))
    return queued
