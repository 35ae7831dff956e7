"""Reports: the summary of a period's incidents, their CSV, and the incidents behind a figure.

Read-only use cases. Each figure is one aggregate statement (queries.py); this module only shapes
the grouped rows into the answer. README ("Reports") defines every figure.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import selectinload

from ..catalog import Service
from ..clock import isoformat, utcnow
from ..dbutil import dialect
from ..errors import ValidationFailed
from ..extensions import db
from ..incidents.models import Incident
from ..reviews.models import ActionItem
from ..vocabulary import ActionItemState, DeliveryStatus
from . import queries
from .policy import PERCENTILES, TOP, ReportFilter, share, week_label, weeks_of

SUMMARY_DURATIONS = {"mtta_seconds": "time_to_acknowledge", "mttr_seconds": "time_to_resolve",
                     "first_public_update_seconds": "time_to_first_public_update",
                     "first_customer_message_seconds": "time_to_first_customer_message"}
BROADCAST_FIGURES = ("sent", "delivered", "failed", "fell_back")


def check_filter(f: ReportFilter) -> ReportFilter:
    """A service named in the filter must exist (a typo would otherwise read as "no incidents")."""
    if f.service and db.session.scalar(select(Service.id).where(Service.name == f.service)) is None:
        raise ValidationFailed(f"No service named {f.service!r}.", details={"service": "unknown service"})
    return f


def service_names() -> list[str]:
    """Every service in the catalogue, for the page's filter."""
    return list(db.session.scalars(select(Service.name).order_by(Service.name)))


def summary(f: ReportFilter) -> dict:
    """Every figure of the report on the incidents `f` selects (see README, "Reports")."""
    check_filter(f)
    _no_jit()
    stats = _figures(f)
    overall = {metric: stats.get((metric, queries.ALL_WEEKS), _EMPTY) for metric in queries.OVER_THE_PERIOD}
    linked = overall["tickets"]["total"]
    levels = _levels(f)
    answer = {
        "period": {"since": isoformat(f.since), "until": isoformat(f.until)},
        "filters": {"severity": list(f.severities), "service": f.service, "tag": f.tag},
        "incidents": overall["tickets"]["count"],       # every incident has a ticket count, 0 or more
        "acknowledged": overall["time_to_acknowledge"]["count"],
        "resolved": overall["time_to_resolve"]["count"],
        "reopened": overall["reopened"]["count"],
        **{key: _strip(overall[metric]) for key, metric in SUMMARY_DURATIONS.items()},
        "sla_breaches": {level: row["breaches"] for level, row in levels["by_level"].items()},
        "sla_breaches_by_policy": {policy: {level: row["breaches"] for level, row in rows.items()}
                                   for policy, rows in levels["by_policy"].items()},
        "escalations": {level: row["pages"] for level, row in levels["by_level"].items()},
        "escalated_incidents": overall["escalated"]["count"],
        "swarms": overall["swarm"]["count"],
        "tickets": {"linked": linked, "per_incident": _strip(overall["tickets"], count=False)},
        "top_tags": _top_tags(f, linked),
        **_services(stats, linked),
        "weekly": _weekly(f, stats),
        "broadcasts": _broadcasts(f),
    }
    answer["overdue_action_items"] = overdue_action_items(f)
    return answer


def _no_jit() -> None:
    """PostgreSQL compiles a statement whose estimated cost is high enough (the report's correlated
    lookups are) with LLVM first, which took 1.5 s here for a query that then ran in 0.3 s: off for
    this transaction."""
    if dialect() == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))


def overdue_action_items(f: ReportFilter) -> int:
    """The report's incidents' overdue action items: still open after their due day (UTC days, as
    reviews/policy.py `is_overdue` says)."""
    return db.session.scalar(select(func.count()).select_from(ActionItem).where(
        ActionItem.incident_id.in_(select(queries.chosen(f).c.id)),
        ActionItem.state == ActionItemState.OPEN, ActionItem.due_on < utcnow().date())) or 0


_EMPTY = {"median": None, "p90": None, "count": 0, "total": 0}


def _figures(f: ReportFilter) -> dict[tuple[str, str], dict]:
    """(metric, scope) -> {"median", "p90", "count", "total"} from the one percentile statement."""
    assert PERCENTILES == (50, 90)
    return {(row["metric"], row["scope"]): {"median": _rounded(row["p50"]), "p90": _rounded(row["p90"]),
                                            "count": int(row["count"]), "total": int(row["total"] or 0)}
            for row in db.session.execute(queries.figures_by_week(f)).mappings()}


def _rounded(value) -> float | None:
    return None if value is None else round(float(value), 1)


def _levels(f: ReportFilter) -> dict:
    """Pages and breaches per level (levels in policy order), and per policy and level."""
    rows = db.session.execute(queries.escalation_levels(f)).mappings().all()
    by_level: dict[str, dict] = {}
    by_policy: dict[str, dict] = {}
    for row in sorted(rows, key=lambda r: (r["position"], r["level"], r["policy"] or "")):
        figures = {"pages": int(row["pages"]), "breaches": int(row["breaches"])}
        level = by_level.setdefault(row["level"], {"pages": 0, "breaches": 0})
        for key, n in figures.items():
            level[key] += n
        by_policy.setdefault(row["policy"], {})[row["level"]] = figures
    return {"by_level": by_level, "by_policy": dict(sorted(by_policy.items()))}


def _top_tags(f: ReportFilter, linked: int) -> list[dict]:
    rows = db.session.execute(queries.top_tags(f, dialect(), TOP))
    return [{"tag": tag, "tickets": int(n), "share": share(int(n), linked)} for tag, n in rows]


def _services(stats: dict, linked: int) -> dict:
    """Per service of the incidents: incidents (count) and their linked tickets (total)."""
    rows = [(scope, figure["count"], figure["total"]) for (metric, scope), figure in stats.items() if metric == "service"]
    top = sorted(rows, key=lambda r: (-r[2], -r[1], r[0]))[:TOP]
    repeat = sorted((r for r in rows if r[1] >= 2), key=lambda r: (-r[1], -r[2], r[0]))
    return {"top_services": [{"service": name, "incidents": incidents, "tickets": tickets,
                              "share": share(tickets, linked)} for name, incidents, tickets in top],
            "repeat_services": [{"service": name, "incidents": incidents} for name, incidents, _ in repeat]}


def _weekly(f: ReportFilter, stats: dict) -> list[dict]:
    weeks = []
    for monday in weeks_of(f.since, f.until):
        key = monday.isoformat()
        declared = stats.get(("declared", key), _EMPTY)
        weeks.append({"week": week_label(monday), "starts_on": key, "incidents": declared["count"],
                      **{name: _strip(stats.get((metric, key), _EMPTY)) for name, metric in SUMMARY_DURATIONS.items()}})
    return weeks


def _strip(figure: dict, *, count: bool = True) -> dict:
    kept = {"median": figure["median"], "p90": figure["p90"]}
    return {**kept, "count": figure["count"]} if count else kept


def _broadcasts(f: ReportFilter) -> dict[str, dict[str, int]]:
    """Per channel: sent (a provider took it: sent or delivered), delivered (a receipt said so), failed
    (for good, nowhere left to go), fell back (failed for good here and moved to the customer's next
    channel; counted on the channel it left, and then on the next one as whatever became of it)."""
    out: dict[str, dict[str, int]] = {}
    for channel, status, left, n in db.session.execute(queries.broadcast_outcomes(f)):
        figures = out.setdefault(channel, dict.fromkeys(BROADCAST_FIGURES, 0))
        if status in queries.ACCEPTED:
            figures["sent"] += n
        if status == DeliveryStatus.DELIVERED:
            figures["delivered"] += n
        if status == DeliveryStatus.FAILED:
            figures["failed"] += n
        if left:
            out.setdefault(left, dict.fromkeys(BROADCAST_FIGURES, 0))["fell_back"] += n
    return dict(sorted(out.items()))


# The CSV ------------------------------------------------------------------------------------------

CSV_COLUMNS = ("id", "reference", "title", "severity", "status", "services", "declared_at", "acknowledged_at",
               "resolved_at", "first_public_update_at", "first_customer_message_at", "time_to_acknowledge_seconds",
               "time_to_resolve_seconds", "time_to_first_public_update_seconds",
               "time_to_first_customer_message_seconds", "reopened", "escalation_policy", "swarm", "pages",
               "sla_breaches", "linked_tickets", "messages_sent", "messages_delivered", "messages_failed",
               "messages_fell_back")


def incidents_csv(f: ReportFilter) -> Iterator[str]:
    """The report's incidents, one CSV row each with its times and figures, newest first."""
    check_filter(f)
    _no_jit()
    services: dict[int, list[str]] = {}
    for incident_id, name in db.session.execute(queries.services_of(f)):
        services.setdefault(incident_id, []).append(name)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in db.session.execute(queries.incident_rows(f)).mappings():
        writer.writerow([_cell(value) for value in (
            row["id"], f"INC-{row['id']}", row["title"], row["severity"], row["status"],
            " ".join(services.get(row["id"], [])), row["declared_at"], row["acknowledged_at"], row["resolved_at"],
            row["first_public_update_at"], row["first_customer_message_at"],
            *(_whole(row[name]) for name in queries.DURATIONS), row["reopened"], row["escalation_policy"] or "",
            "yes" if row["escalation_mode"] == "swarm" and row["pages"] else "no", row["pages"], row["breaches"],
            row["linked_tickets"], row["messages_sent"], row["messages_delivered"], row["messages_failed"],
            row["messages_fell_back"])])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _whole(value) -> int | str:
    return "" if value is None else int(round(float(value)))


def _cell(value):
    """A CSV cell: times in ISO 8601 (UTC), nothing a spreadsheet would run as a formula."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return isoformat(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# The incidents behind a figure --------------------------------------------------------------------

def incidents_behind(f: ReportFilter, figure: str | None = None, *, level: str | None = None,
                     policy: str | None = None, channel: str | None = None, page: int = 1,
                     per_page: int = 50) -> tuple[list[Incident], int]:
    """The incidents a figure of the report counts, newest first, with the total."""
    if figure is not None and figure not in queries.FIGURES:
        raise ValidationFailed(f"Unknown figure {figure[:40]!r}.",
                               details={"figure": f"one of {', '.join(queries.FIGURES)}"})
    check_filter(f)
    clauses = queries.behind(f, figure, level=level, policy=policy, channel=channel)
    total = db.session.scalar(select(func.count()).select_from(Incident).where(*clauses)) or 0
    rows = db.session.scalars(select(Incident).where(*clauses).options(selectinload(Incident.services))
                              .order_by(Incident.declared_at.desc(), Incident.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), total


def csv_name(f: ReportFilter) -> str:
    """incidents-2026-09-01-to-2026-11-30.csv: the first and the last day the period covers (UTC)."""
    last = f.until - timedelta(microseconds=1)
    return f"incidents-{f.since.date().isoformat()}-to-{last.date().isoformat()}.csv"
