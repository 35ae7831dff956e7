"""The possible-outage box: firing alerts no open incident holds, by service; declaring from it."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from .. import flows
from ..auth.models import User
from ..errors import NotFound
from ..extensions import db
from ..incidents.models import Incident
from ..incidents.policy import OPEN_STATUSES
from ..uow import unit_of_work
from .models import Alert
from .service import attach

logger = logging.getLogger(__name__)
SHOWN = 20   # entries in the box


@dataclass
class AlertGroup:
    """One entry of the box: a service's firing alerts that no open incident holds."""

    service: str | None
    alerts: int
    names: list[str]
    severities: list[str]
    since: datetime | None
    last_at: datetime


def _waiting(service: str | None = None, *, any_service: bool = True):
    """Firing alerts on no open incident (never attached, or their incident was resolved)."""
    query = (select(Alert).outerjoin(Incident, Incident.id == Alert.incident_id)
             .where(Alert.status == "firing",
                    or_(Alert.incident_id.is_(None), Incident.status.not_in(OPEN_STATUSES))))
    if not any_service:
        query = query.where(Alert.service == service if service else Alert.service.is_(None))
    return query


def possible_outages() -> list[AlertGroup]:
    """The box's alert entries: most alerts first, then the longest firing."""
    groups: dict[str | None, AlertGroup] = {}
    for row in db.session.scalars(_waiting().order_by(Alert.starts_at, Alert.id).limit(5_000)):
        group = groups.get(row.service)
        if group is None:
            group = groups[row.service] = AlertGroup(row.service, 0, [], [], row.starts_at, row.last_received_at)
        group.alerts += 1
        if row.name and row.name not in group.names:
            group.names.append(row.name)
        severity = row.labels.get("severity")
        if severity and severity not in group.severities:
            group.severities.append(severity)
        if row.starts_at and (group.since is None or row.starts_at < group.since):
            group.since = row.starts_at
        group.last_at = max(group.last_at, row.last_received_at)
    ordered = sorted(groups.values(), key=lambda g: (-g.alerts, g.since or g.last_at, g.service or ""))
    return ordered[:SHOWN]


def declare_from_alerts(actor: User, *, service: str | None, severity: str) -> tuple[Incident, int]:
    """One action from the box: declare an incident for a service's waiting alerts and attach them all."""
    with unit_of_work():
        rows = list(db.session.scalars(_waiting(service, any_service=False).order_by(Alert.starts_at, Alert.id)))
        if not rows:
            raise NotFound(f"No firing alerts wait on {service or 'no service'}.", code="no_alerts")
        names = sorted({row.name for row in rows if row.name})
        what = f"service {service}" if service else "alerts without a service"
        incident = flows.declare_incident(
            actor, title=f"Possible outage: {what}", severity=severity,
            summary=f"{len(rows)} alert{'s' if len(rows) != 1 else ''} firing: {', '.join(names[:10]) or '—'}.",
            services=[service] if service else [])
        for row in rows:
            attach(row, incident, actor)
    logger.info("%s declared from %d alert(s) by %s", incident.reference, len(rows), actor.email)
    return incident, len(rows)
