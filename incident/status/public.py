"""What the public may see, gathered in one pass: components with their state and 90-day
history, published incidents with only their public updates, maintenance windows.

Only this module reads incidents for the public page, and it reads only: titles, severity
(as impact), statuses, public updates, the components they touch, and the known issue's
workaround while the incident is open (staff publish it deliberately). Never notes, roles,
tickets, summaries, a known issue's symptoms, cause or fix, or anything about customers.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..incidents.models import Incident, IncidentUpdate
from ..incidents.visibility import public_incidents
from ..known_issues.service import public_workarounds
from . import history, policy
from .models import (
    Maintenance,
    MaintenanceUpdate,
    StatusComponent,
    StatusIncident,
    StatusIncidentComponent,
    StatusPageState,
)

RECENT = 50
EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass
class PublicUpdate:
    id: int
    status: str
    body: str
    created_at: datetime


@dataclass
class PublicIncident:
    id: int
    name: str
    status: str
    impact: str
    started_at: datetime
    created_at: datetime
    updated_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    updates: list[PublicUpdate]                       # newest first
    components: dict[int, str]                        # component id -> state during the incident
    workaround: str = ""                              # the known issue's, while the incident is open


@dataclass
class PublicMaintenance:
    id: int
    name: str
    status: str
    scheduled_for: datetime
    scheduled_until: datetime
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    updates: list[PublicUpdate]
    components: list[int]


@dataclass
class PublicComponent:
    id: int
    name: str
    description: str
    position: int
    is_group: bool
    group_id: int | None
    only_show_if_degraded: bool
    created_at: datetime
    updated_at: datetime
    status: str = "operational"
    children: list[int] = field(default_factory=list)
    history: list = field(default_factory=list)       # [(date, worst state or None)]


@dataclass
class PublicPage:
    now: datetime
    updated_at: datetime
    components: list[PublicComponent]
    incidents: list[PublicIncident]                   # published, newest first
    maintenances: list[PublicMaintenance]             # not cancelled, latest first
    indicator: str

    @property
    def unresolved(self) -> list[PublicIncident]:
        return [i for i in self.incidents if i.status != "resolved"]

    @property
    def upcoming(self) -> list[PublicMaintenance]:
        return [m for m in self.maintenances if m.status == "scheduled"]

    @property
    def active(self) -> list[PublicMaintenance]:
        return [m for m in self.maintenances if m.status in ("in_progress", "verifying")]

    def component(self, component_id: int) -> PublicComponent | None:
        return next((c for c in self.components if c.id == component_id), None)


def read_version() -> tuple[int, datetime] | None:
    row = db.session.execute(select(StatusPageState.version, StatusPageState.updated_at)
                             .where(StatusPageState.id == 1)).first()
    return (row[0], row[1]) if row else None


def _incidents(since: datetime) -> list[Incident]:
    published = select(IncidentUpdate.incident_id).where(IncidentUpdate.public.is_(True))
    base = select(Incident).options(selectinload(Incident.services)).where(Incident.id.in_(published),
                                                                           public_incidents())
    relevant = db.session.scalars(base.where(or_(Incident.status != "resolved", Incident.resolved_at >= since))).all()
    recent = db.session.scalars(base.order_by(Incident.declared_at.desc(), Incident.id.desc()).limit(RECENT)).all()
    merged = {i.id: i for i in [*relevant, *recent]}
    return sorted(merged.values(), key=lambda i: (i.declared_at, i.id), reverse=True)


def _public_incidents(rows: list[Incident], components: list[PublicComponent], by_service) -> list[PublicIncident]:
    ids = [i.id for i in rows]
    updates = defaultdict(list)
    for u in db.session.scalars(select(IncidentUpdate).where(IncidentUpdate.incident_id.in_(ids),
                                                            IncidentUpdate.public.is_(True))
                                .order_by(IncidentUpdate.created_at.desc(), IncidentUpdate.id.desc())):
        updates[u.incident_id].append(PublicUpdate(u.id, u.status, u.message, u.created_at))
    impacts = {s.incident_id: s.impact for s in db.session.scalars(
        select(StatusIncident).where(StatusIncident.incident_id.in_(ids)))}
    overrides: defaultdict[int, dict[int, str]] = defaultdict(dict)
    for o in db.session.scalars(select(StatusIncidentComponent).where(StatusIncidentComponent.incident_id.in_(ids))):
        overrides[o.incident_id][o.component_id] = o.status
    known = {c.id for c in components}
    workarounds = public_workarounds([i.id for i in rows if i.status != "resolved"])
    out = []
    for i in rows:
        ups = updates[i.id]
        touched = policy.component_states(i.severity, [s.id for s in i.services], by_service, overrides[i.id], known)
        monitoring = [u.created_at for u in ups if u.status == "monitoring"]
        out.append(PublicIncident(
            id=i.id, name=i.title, status=i.status, impact=policy.incident_impact(i.severity, impacts.get(i.id)),
            started_at=i.declared_at, created_at=ups[-1].created_at, updated_at=ups[0].created_at,
            monitoring_at=monitoring[0] if monitoring and i.status in ("monitoring", "resolved") else None,
            resolved_at=i.resolved_at if i.status == "resolved" else None, updates=ups, components=touched,
            workaround=workarounds.get(i.id, "") if i.status != "resolved" else ""))
    return out


def _maintenances(since: datetime) -> list[PublicMaintenance]:
    base = (select(Maintenance).options(selectinload(Maintenance.components))
            .where(Maintenance.status != "cancelled"))
    relevant = db.session.scalars(base.where(or_(Maintenance.status != "completed",
                                                 Maintenance.scheduled_until >= since))).all()
    recent = db.session.scalars(base.order_by(Maintenance.scheduled_for.desc()).limit(RECENT)).all()
    rows = sorted({m.id: m for m in [*relevant, *recent]}.values(), key=lambda m: (m.scheduled_for, m.id), reverse=True)
    updates = defaultdict(list)
    for u in db.session.scalars(select(MaintenanceUpdate).where(MaintenanceUpdate.maintenance_id.in_([m.id for m in rows]))
                                .order_by(MaintenanceUpdate.created_at.desc(), MaintenanceUpdate.id.desc())):
        updates[u.maintenance_id].append(PublicUpdate(u.id, u.status, u.body, u.created_at))
    return [PublicMaintenance(m.id, m.name, m.status, m.scheduled_for, m.scheduled_until, m.started_at, m.completed_at,
                              m.created_at, m.updated_at, updates[m.id], [c.id for c in m.components]) for m in rows]


def collect(now: datetime) -> PublicPage:
    """Everything the page and the API show, as of `now`."""
    since = now - timedelta(days=policy.HISTORY_DAYS + 1)
    rows = db.session.scalars(select(StatusComponent).order_by(StatusComponent.position, StatusComponent.id)).all()
    components = [PublicComponent(c.id, c.name, c.description or "", c.position, c.is_group, c.group_id,
                                  c.only_show_if_degraded, c.created_at, c.updated_at) for c in rows]
    by_service = defaultdict(list)
    for row in rows:
        if row.service_id and not row.is_group:
            by_service[row.service_id].append(row.id)
    incidents = _public_incidents(_incidents(since), components, by_service)
    maintenances = _maintenances(since)
    recorded_spans, recorded = history.spans(incidents, now)
    spans = defaultdict(list, recorded_spans)
    for i in incidents:
        if i.id not in recorded:  # declared before the record was kept: its final state, start to end
            for cid, state in i.components.items():
                spans[cid].append((i.started_at, i.resolved_at or now, state))
    for m in maintenances:
        if m.started_at:
            for cid in m.components:
                spans[cid].append((m.started_at, m.completed_at or now, "under_maintenance"))
    current = defaultdict(list)
    for i in incidents:
        if i.status != "resolved":
            for cid, state in i.components.items():
                current[cid].append(state)
    for m in maintenances:
        if m.status == "in_progress":
            for cid in m.components:
                current[cid].append("under_maintenance")
    by_id = {c.id: c for c in components}
    for c in components:
        if c.group_id in by_id:
            by_id[c.group_id].children.append(c.id)
    for c in components:
        if not c.is_group:
            c.status = policy.worst_status(current[c.id])
            c.history = policy.history(spans[c.id], since=c.created_at, now=now)
    for c in components:
        if c.is_group:
            c.status = policy.worst_status(by_id[k].status for k in c.children)
    version = read_version()
    updated = version[1] if version else max([c.updated_at for c in components] or [EPOCH])
    indicator = policy.indicator([c.status for c in components if not c.is_group],
                                 [i.impact for i in incidents if i.status != "resolved"])
    return PublicPage(now, updated, components, incidents, maintenances, indicator)
