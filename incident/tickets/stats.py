"""The incident page's flood figures: tickets per interval and top tags, cached in the database.

Computing them reads every linked ticket, so the result is kept per incident and recomputed
when the links changed (tickets_version) — at most every MIN_INTERVAL while a flood keeps
changing them — or when it is older than a few minutes (the chart's right edge is "now").
The linked count the page shows is always exact; only the chart and top tags may lag.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..clock import utcnow
from ..extensions import db
from ..models import Incident, TimelineEvent
from .chart import bucketize
from .models import IncidentTicketStats, Ticket

MIN_INTERVAL = timedelta(seconds=2)
MAX_AGE = timedelta(minutes=5)


def _compute(incident: Incident, now: datetime) -> dict:
    times, tags = [], Counter()
    query = (select(Ticket.created_at, Ticket.tags).where(Ticket.incident_id == incident.id)
             .execution_options(yield_per=5_000))
    for created_at, stored_tags in db.session.execute(query):
        times.append(created_at)
        tags.update(stored_tags.split())
    start = min(incident.declared_at, min(times)) if times else incident.declared_at
    end = incident.resolved_at or now
    end = max(end, max(times)) if times else end
    bucket_minutes, buckets = bucketize(times, start=start, end=end)
    return {"total": len(times), "bucket_minutes": bucket_minutes,
            "buckets": [[t.isoformat(), n] for t, n in buckets],
            "top_tags": tags.most_common(10)}


def ticket_stats(incident: Incident) -> dict:
    """Chart buckets, top tags and total for the incident's linked tickets (maybe a few seconds old)."""
    now = utcnow()
    row = db.session.get(IncidentTicketStats, incident.id)
    if row is not None:
        age = now - row.computed_at
        current = row.version == incident.tickets_version
        if age < MAX_AGE and (current or age < MIN_INTERVAL):
            return {**row.data, "computed_at": row.computed_at}
    data = _compute(incident, now)
    try:
        if row is None:
            db.session.add(IncidentTicketStats(incident_id=incident.id, version=incident.tickets_version,
                                               computed_at=now, data=data))
        else:
            row.version, row.computed_at, row.data = incident.tickets_version, now, data
        db.session.commit()
    except IntegrityError:  # another request stored it at the same moment; theirs is as good
        db.session.rollback()
    return {**data, "computed_at": now}


def chart_markers(incident_id: int) -> list[tuple[datetime, str]]:
    """The incident's declaration and status changes, for the chart."""
    rows = db.session.execute(select(TimelineEvent.at, TimelineEvent.kind, TimelineEvent.data).where(
        TimelineEvent.incident_id == incident_id, TimelineEvent.kind.in_(("declared", "status_changed")))
        .order_by(TimelineEvent.at, TimelineEvent.id))
    return [(at, "declared" if kind == "declared" else data.get("to", "")) for at, kind, data in rows]


def chart_buckets(stats: dict) -> list[tuple[datetime, int]]:
    return [(datetime.fromisoformat(t), n) for t, n in stats["buckets"]]
