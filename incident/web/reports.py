"""The Reports page: a period's figures at a glance, charts drawn server-side, every figure a link to
the incidents behind it (the incidents list, filtered the same way), the CSV for the same filters."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from flask import render_template, request, url_for
from markupsafe import Markup

from ..auth.access import login_required
from ..clock import utcnow
from ..errors import AppError
from ..reports import service
from ..reports.charts import Bar, Point, bars_svg, channels_svg, human_duration, trend_svg
from ..reports.policy import DEFAULT_DAYS, MAX_DAYS, SEVERITIES, ReportFilter, parse_filter
from ..reports.queries import FIGURES
from ..reports.routes import csv_response, filter_from_args
from .blueprint import bp

BEHIND_KEYS = ("since", "until", "severity", "service", "tag", "figure", "level", "policy", "channel")
FIGURE_WORDS = {"acknowledged": "acknowledged", "unacknowledged": "never acknowledged", "resolved": "resolved",
                "unresolved": "not resolved", "public_update": "with a public update",
                "customer_message": "with a customer message sent", "reopened": "reopened",
                "escalated": "that paged", "breached": "with an SLA breach", "swarm": "that swarmed",
                "broadcast": "with broadcast messages"}


def _linker(f: ReportFilter):
    """A function giving the URL of the incidents list behind one figure of this report."""
    base = f.as_args()

    def link(figure: str | None = None, **extra: str | None) -> str:
        args = {**base, **{k: v for k, v in extra.items() if v}, **({"figure": figure} if figure else {})}
        return url_for("web.incidents", **args)

    return link


@bp.get("/reports")
@login_required()
def reports_page():
    values = {key: request.args.getlist(key) for key in ("since", "until", "severity", "service", "tag")}
    form = {"services": service.service_names(), "severities": SEVERITIES, "max_days": MAX_DAYS,
            "default_days": DEFAULT_DAYS}
    try:
        report_filter = filter_from_args()
        summary = service.summary(report_filter)
    except AppError as error:
        return render_template("reports.html", error=error, values=values, **form), error.status
    # The form shows the period reported on, defaults included, as the days it covers.
    values["since"] = [report_filter.since.date().isoformat()]
    values["until"] = [(report_filter.until - timedelta(microseconds=1)).date().isoformat()]
    link = _linker(report_filter)
    return render_template(
        "reports.html", s=summary, f=report_filter, link=link, charts=_charts(summary, report_filter, link),
        values=values, duration=human_duration, csv_url=url_for("web.reports_csv", **report_filter.as_args()),
        json_url=url_for("api_reports.summary", **report_filter.as_args()), **form)


@bp.get("/reports/incidents.csv")
@login_required()
def reports_csv():
    return csv_response(filter_from_args())


def _charts(s: dict, f: ReportFilter, link) -> dict:
    """The page's charts from the summary's figures; each point and bar links to its incidents."""
    def week(w: dict, figure: str | None = None) -> str:
        monday = datetime.combine(date.fromisoformat(w["starts_on"]), time(0), tzinfo=timezone.utc)
        return link(figure, since=_instant(max(monday, f.since)), until=_instant(min(monday + timedelta(days=7), f.until)))

    def weekly(key: str, figure: str, label: str, chart_id: str) -> Markup:
        return trend_svg([Point(w["week"], w[key]["median"], f"median of {w[key]['count']} incidents",
                                week(w, figure) if w[key]["count"] else None) for w in s["weekly"]],
                         label=label, chart_id=chart_id)

    tags = [Bar(t["tag"], t["tickets"], f"{t['tickets']:,} tickets ({t['share'] * 100:.1f} %)", link(tag=t["tag"]))
            for t in s["top_tags"]]
    return {
        "mtta": weekly("mtta_seconds", "acknowledged", "Time to acknowledge, median per week", "mtta-trend"),
        "mttr": weekly("mttr_seconds", "resolved", "Time to resolve, median per week", "mttr-trend"),
        "incidents": trend_svg([Point(w["week"], w["incidents"], "", week(w) if w["incidents"] else None)
                                for w in s["weekly"]], label="Incidents declared per week", chart_id="incidents-trend",
                               fmt=lambda v: "—" if v is None else f"{v:,.0f}"),
        "tags": bars_svg(tags, label="Top tags of linked tickets", chart_id="top-tags"),
        "channels": channels_svg(s["broadcasts"], chart_id="broadcast-channels",
                                 hrefs={c: link("broadcast", channel=c) for c in s["broadcasts"]}),
    }


def _instant(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds")


def incidents_behind_args(args, page: int, per_page: int) -> dict | None:
    """For the incidents list: when the URL names a report's filters (a click from the Reports page),
    the incidents behind that figure and how to describe them; None for the plain list."""
    if not any(args.get(key) for key in BEHIND_KEYS):
        return None
    f = parse_filter({key: args.getlist(key) for key in ("since", "until", "severity", "service", "tag")},
                     now=utcnow())
    figure = args.get("figure") or None
    extra = {key: args.get(key) or None for key in ("level", "policy", "channel")}
    rows, total = service.incidents_behind(f, figure, page=page, per_page=per_page, **extra)
    words = [FIGURE_WORDS.get(figure, "") if figure in FIGURES else ""]
    words += [f"at level {extra['level']}"] if extra["level"] else []
    words += [f"under policy {extra['policy']}"] if extra["policy"] else []
    words += [f"on channel {extra['channel']}"] if extra["channel"] else []
    return {"rows": rows, "total": total, "filter": f, "what": " ".join(w for w in words if w),
            "args": {key: args.getlist(key) for key in BEHIND_KEYS if args.get(key)},
            "report_url": url_for("web.reports_page", **f.as_args())}
