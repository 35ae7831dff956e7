"""The public page in the shapes of Atlassian Statuspage's public v2 API (/api/v2/*.json),
field for field, so existing clients, monitors and aggregators read Tocsin unchanged."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from . import policy
from .public import PublicComponent, PublicIncident, PublicMaintenance, PublicPage

# The documents served under /api/v2/, by file name.
NAMES = ("summary.json", "status.json", "components.json", "incidents.json", "incidents/unresolved.json",
         "scheduled-maintenances.json", "scheduled-maintenances/upcoming.json",
         "scheduled-maintenances/active.json")
MAINTENANCE_TEXT = {"scheduled": "Maintenance is scheduled.",
                    "in_progress": "Scheduled maintenance is currently in progress.",
                    "completed": "The scheduled maintenance has been completed."}


def ts(value: datetime | None) -> str | None:
    """Statuspage's timestamps: ISO 8601 with milliseconds and an offset."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def component_id(n: int) -> str:
    return f"cmp{n}"


def page_json(page: PublicPage, config) -> dict:
    return {"id": config["page_id"], "name": config["name"], "url": config["url"],
            "time_zone": "Etc/UTC", "updated_at": ts(page.updated_at)}


def component_json(c: PublicComponent, page_id: str) -> dict:
    body: dict[str, Any]
    body = {"id": component_id(c.id), "name": c.name, "status": c.status, "created_at": ts(c.created_at),
            "updated_at": ts(c.updated_at), "position": c.position, "description": c.description or None,
            "showcase": not c.is_group, "start_date": c.created_at.date().isoformat(),
            "group_id": component_id(c.group_id) if c.group_id else None, "page_id": page_id,
            "group": c.is_group, "only_show_if_degraded": c.only_show_if_degraded}
    if c.is_group:
        body["components"] = [component_id(k) for k in c.children]
    return body


def _update_json(update, incident_id: str, prefix: str, body: str) -> dict:
    return {"id": f"{prefix}{update.id}", "status": update.status, "body": body, "incident_id": incident_id,
            "created_at": ts(update.created_at), "updated_at": ts(update.created_at),
            "display_at": ts(update.created_at), "affected_components": None,
            "deliver_notifications": True, "custom_tweet": None, "tweet_id": None}


def incident_json(i: PublicIncident, page: PublicPage, config) -> dict:
    iid = f"inc{i.id}"
    return {"id": iid, "name": i.name, "status": i.status, "created_at": ts(i.created_at),
            "updated_at": ts(i.updated_at), "monitoring_at": ts(i.monitoring_at), "resolved_at": ts(i.resolved_at),
            "impact": i.impact, "shortlink": f"{config['url']}#{iid}", "started_at": ts(i.started_at),
            "page_id": config["page_id"],
            "incident_updates": [_update_json(u, iid, "upd", u.body) for u in i.updates],
            "components": [component_json(c, config["page_id"]) for c in page.components if c.id in i.components]}


def maintenance_json(m: PublicMaintenance, page: PublicPage, config) -> dict:
    mid = f"mnt{m.id}"
    return {"id": mid, "name": m.name, "status": m.status, "created_at": ts(m.created_at),
            "updated_at": ts(max([m.created_at, *[u.created_at for u in m.updates]])),
            "monitoring_at": None, "resolved_at": ts(m.completed_at), "impact": "maintenance",
            "shortlink": f"{config['url']}#{mid}", "started_at": ts(m.started_at or m.scheduled_for),
            "page_id": config["page_id"],
            "incident_updates": [_update_json(u, mid, "mup", u.body or MAINTENANCE_TEXT.get(u.status, ""))
                                 for u in m.updates],
            "components": [component_json(c, config["page_id"]) for c in page.components if c.id in m.components],
            "scheduled_for": ts(m.scheduled_for), "scheduled_until": ts(m.scheduled_until)}


def status_json(page: PublicPage) -> dict:
    return {"indicator": page.indicator, "description": policy.INDICATOR_DESCRIPTIONS[page.indicator]}


def documents(page: PublicPage, config) -> dict[str, dict]:
    """Every /api/v2 document, by file name."""
    head = page_json(page, config)
    components = [component_json(c, config["page_id"]) for c in page.components]
    incidents = [incident_json(i, page, config) for i in page.incidents[:50]]
    unresolved = [incident_json(i, page, config) for i in page.unresolved]
    maintenances = [maintenance_json(m, page, config) for m in page.maintenances[:50]]
    upcoming = [maintenance_json(m, page, config) for m in page.upcoming]
    active = [maintenance_json(m, page, config) for m in page.active]
    return {
        "summary.json": {"page": head, "components": components, "incidents": unresolved,
                         "scheduled_maintenances": active + upcoming, "status": status_json(page)},
        "status.json": {"page": head, "status": status_json(page)},
        "components.json": {"page": head, "components": components},
        "incidents.json": {"page": head, "incidents": incidents},
        "incidents/unresolved.json": {"page": head, "incidents": unresolved},
        "scheduled-maintenances.json": {"page": head, "scheduled_maintenances": maintenances},
        "scheduled-maintenances/upcoming.json": {"page": head, "scheduled_maintenances": upcoming},
        "scheduled-maintenances/active.json": {"page": head, "scheduled_maintenances": active},
    }
