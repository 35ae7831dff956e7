"""What each published incident did to each component, change by change: the 90-day bars show a
day as it was (an outage downgraded to degraded performance stays an outage on the day it was
one), not as the incident ended.

A row is written whenever the state the page shows for an incident's component changes; the
first rows of an incident date from its declaration. Incidents older than this record have no
rows, and the page falls back to their final state over their whole span.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..clock import utcnow
from ..extensions import db
from ..incidents.models import Incident, IncidentUpdate
from ..incidents.visibility import public_incidents
from . import policy
from .models import StatusComponent, StatusComponentHistory, StatusIncidentComponent
from .signals import component_states_changed


def record_states(incident_ids: Iterable[int]) -> int:
    """After a flushed change: a row for each component whose state, as the page would show it
    now, differs from the last one recorded for that incident. No commit; rows written."""
    ids = sorted(set(incident_ids))
    if not ids:
        return 0
    now = utcnow()
    by_service, known = defaultdict(list), set()
    for cid, service_id in db.session.execute(select(StatusComponent.id, StatusComponent.service_id)
                                              .where(StatusComponent.is_group.is_(False))):
        known.add(cid)
        if service_id:
            by_service[service_id].append(cid)
    overrides: dict[int, dict[int, str]] = defaultdict(dict)
    for row in db.session.scalars(select(StatusIncidentComponent).where(StatusIncidentComponent.incident_id.in_(ids))):
        overrides[row.incident_id][row.component_id] = row.status
    last: dict[int, dict[int, str]] = defaultdict(dict)
    for held in db.session.scalars(select(StatusComponentHistory).where(StatusComponentHistory.incident_id.in_(ids))
                                   .order_by(StatusComponentHistory.since, StatusComponentHistory.id)):
        last[held.incident_id][held.component_id] = held.status
    changes: list[tuple[int, int, str]] = []
    for incident in db.session.scalars(select(Incident).options(selectinload(Incident.services))
                                       .where(Incident.id.in_(ids))):
        states = {} if incident.status == "resolved" or incident.private else policy.component_states(
            incident.severity, [s.id for s in incident.services], by_service, overrides[incident.id], known)
        before = last[incident.id]
        since = now if before else incident.declared_at
        for cid in sorted(set(states) | set(before)):
            status = states.get(cid, "operational")
            if status != before.get(cid, "operational") and cid in known:
                db.session.add(StatusComponentHistory(incident_id=incident.id, component_id=cid, status=status,
                                                      since=since))
                changes.append((cid, incident.id, status))
    if changes:
        component_states_changed.send(None, changes=changes)
    return len(changes)


def record_open_incidents() -> int:
    """The components changed (added, pointed at another service): re-record every open incident
    on the page. No commit."""
    db.session.flush()
    published = select(IncidentUpdate.incident_id).where(IncidentUpdate.public.is_(True))
    return record_states(db.session.scalars(select(Incident.id).where(Incident.status != "resolved",
                                                                      Incident.id.in_(published),
                                                                      public_incidents())))


def spans(incidents, now: datetime) -> tuple[dict[int, list[tuple[datetime, datetime, str]]], set[int]]:
    """{component id: [(start, end, state)]} from the record of these incidents (the page's
    PublicIncidents), and the ids of those that have one: the others are left to the caller."""
    rows: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    ends = {i.id: i.resolved_at or now for i in incidents}
    for row in db.session.scalars(select(StatusComponentHistory).where(
            StatusComponentHistory.incident_id.in_(list(ends)))
            .order_by(StatusComponentHistory.since, StatusComponentHistory.id)):
        rows[row.incident_id][row.component_id].append(row)
    out: dict[int, list] = defaultdict(list)
    for incident_id, by_component in rows.items():
        for cid, sequence in by_component.items():
            for n, row in enumerate(sequence):
                if row.status == "operational":
                    continue
                end = sequence[n + 1].since if n + 1 < len(sequence) else ends[incident_id]
                if end > row.since:
                    out[cid].append((row.since, end, row.status))
    return out, set(rows)
