"""How the public page reads in one language: plain values for the template, nothing from the request."""
from __future__ import annotations

from . import i18n
from .public import PublicPage

# CSS classes, so the page needs no inline styles (the CSP forbids them).
STATE_CLASS = {"operational": "ok", "under_maintenance": "maint", "degraded_performance": "minor",
               "partial_outage": "major", "major_outage": "critical", None: "nodata"}


def _history(component, locale: str) -> dict:
    bars, bad = [], []
    for day, state in component.history:
        label = f"{i18n.format_day(day, locale)}: {i18n.t(locale, 'status.' + (state or 'none'))}"
        bars.append({"state": STATE_CLASS[state], "label": label, "day": day.isoformat()})
        if state not in (None, "operational"):
            bad.append(label)
    summary = "; ".join(bad) if bad else i18n.t(locale, "all_good")
    return {"bars": bars, "summary": i18n.t(locale, "uptime_summary", name=component.name, summary=summary)}


def page_view(page: PublicPage, locale: str, config: dict) -> dict:
    """The template's variables."""
    def tr(key, **values):
        return i18n.t(locale, key, **values)

    def when(value):
        return i18n.format_when(value, locale)

    names = {c.id: c.name for c in page.components}
    by_id = {c.id: c for c in page.components}
    groups = []
    for c in page.components:
        if c.group_id is not None and page.component(c.group_id) is not None:
            continue
        if c.only_show_if_degraded and c.status == "operational":
            continue
        members = [by_id[k] for k in c.children] if c.is_group else [c]
        rows = [{"id": m.id, "name": m.name, "description": m.description, "status": m.status,
                 "state": STATE_CLASS[m.status], "label": tr("status." + m.status), **_history(m, locale)}
                for m in members if not (m.only_show_if_degraded and m.status == "operational")]
        groups.append({"name": c.name if c.is_group else None, "status": c.status,
                       "label": tr("status." + c.status), "state": STATE_CLASS[c.status], "rows": rows})
    incidents = [{"anchor": f"inc{i.id}", "name": i.name, "impact": i.impact, "status": tr("incident." + i.status),
                  "affects": ", ".join(names[k] for k in i.components if k in names), "workaround": i.workaround,
                  "updates": [{"status": tr("incident." + u.status), "body": u.body, "when": when(u.created_at),
                               "iso": u.created_at.isoformat()} for u in i.updates]}
                 for i in page.unresolved]
    maintenances = [{"anchor": f"mnt{m.id}", "name": m.name, "status": tr("maint." + m.status),
                     "window": f"{when(m.scheduled_for)} – {when(m.scheduled_until)}",
                     "affects": ", ".join(names[k] for k in m.components if k in names),
                     "updates": [{"status": tr("maint." + u.status), "when": when(u.created_at),
                                  "body": u.body or tr("maint.default." + u.status)} for u in m.updates]}
                    for m in [*page.active, *reversed(page.upcoming)]]
    return {"locale": locale, "t": tr, "page_name": config["name"], "indicator": page.indicator,
            "indicator_text": tr("indicator." + page.indicator), "groups": groups, "incidents": incidents,
            "maintenances": maintenances, "updated": when(page.updated_at),
            "languages": [(tag, i18n.t(tag, "lang_name")) for tag in i18n.available() if tag != locale]}
