"""The incident page's flood figures: tickets per interval and top tags, cached in the database.

Computing them reads every linked ticket, so the result is kept per incident and recomputed
when the links changed (tickets_version) — at most every MIN_INTERVAL while a flood keeps
changing them — or when it is older than a few minutes (the chart's right edge is "now").
The linked count the page shows is always exact; only the chart and top tags may lag.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..clock import utcnow
from ..extensions import db
from ..incidents.models import Incident, TimelineEvent
from .chart import bucketize_counts
from .models import IncidentTicketStats, Ticket

MIN_INTERVAL = timedelta(seconds=2)
MAX_AGE = timedelta(minutes=5)


def _compute(incident: Incident, now: datetime) -> dict:
    # Counted by the database, per creation time and per set of tags: a flood repeats both many
    # times over, so Python sees thousands of rows rather than one per linked ticket.
    linked = Ticket.incident_id == incident.id
    times = db.session.execute(select(Ticket.created_at, func.count()).where(linked)
                               .group_by(Ticket.created_at)).tuples().all()
    tags: Counter = Counter()
    for stored_tags, count in db.session.execute(select(Ticket.tags, func.count()).where(linked)
                                                 .group_by(Ticket.tags)):
        for tag in stored_tags.split():
            tags[tag] += count
    start = min(incident.declared_at, min(t for t, _ in times)) if times else incident.declared_at
    end = incident.resolved_at or now
    end = max(end, max(t for t, _ in times)) if times else end
    bucket_minutes, buckets = bucketize_counts(times, start=start, end=end)
    top_tags = sorted(tags.items(), key=lambda item: (-item[1], item[0]))[:10]  # ties: alphabetical
    return {"total": sum(n for _, n in times), "bucket_minutes": bucket_minutes,
            "buckets": [[t.isoformat(), n] for t, n in buckets], "top_tags": top_tags}


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


def flood_figures(incident: Incident) -> dict:
    """The same figures computed now, neither cached nor committed (a review's record is built inside a
    unit of work)."""
    return _compute(incident, utcnow())


def chart_markers(incident_id: int) -> list[tuple[datetime, str]]:
    """The incident's declaration and status changes, for the chart."""
    rows = db.session.execute(select(TimelineEvent.at, TimelineEvent.kind, TimelineEvent.data).where(
        TimelineEvent.incident_id == incident_id, TimelineEvent.kind.in_(("declared", "status_changed")))
        .order_by(TimelineEvent.at, TimelineEvent.id))
    return [(at, "declared" if kind == "declared" else data.get("to", "")) for at, kind, data in rows]


def chart_buckets(stats: dict) -> list[tuple[datetime, int]]:
    return [(datetime.fromisoformat(t), n) for t, n in stats["buckets"]]
