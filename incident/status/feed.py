"""The Atom feed of the public page (feedgen): one entry per incident or maintenance window."""
from __future__ import annotations

from feedgen.feed import FeedGenerator
from markupsafe import escape

from . import i18n
from .statuspage import MAINTENANCE_TEXT


def _content(updates, default=None, workaround: str = "") -> str:
    parts = [f"<p><strong>Workaround</strong> - {escape(workaround)}</p>"] if workaround else []
    for u in updates:
        body = u.body or (default or {}).get(u.status, "")
        parts.append(f"<p><small>{escape(i18n.format_when(u.created_at, 'en'))}</small><br>"
                     f"<strong>{escape(u.status.replace('_', ' ').capitalize())}</strong> - {escape(body)}</p>")
    return "".join(parts)


def atom(page, config) -> bytes:
    """The feed as bytes: incidents and windows, the latest first."""
    fg = FeedGenerator()
    fg.id(f"tag:tocsin,2026:{config['page_id']}:status")
    fg.title(f"{config['name']} status")
    fg.link(href=config["url"], rel="alternate")
    fg.link(href=config["url"] + "/feed.atom", rel="self")
    fg.language("en")
    fg.author({"name": config["name"]})
    fg.updated(page.updated_at)
    entries = [(i.updated_at, "incident", i) for i in page.incidents[:50]]
    entries += [(max([m.created_at, *[u.created_at for u in m.updates]]), "maintenance", m)
                for m in page.maintenances[:50]]
    for updated, kind, item in sorted(entries, key=lambda e: (e[0], e[1], e[2].id)):
        entry = fg.add_entry()   # feedgen puts the newest added first
        anchor = f"{'inc' if kind == 'incident' else 'mnt'}{item.id}"
        entry.id(f"tag:tocsin,2026:{config['page_id']}:{anchor}")
        entry.title(item.name)
        entry.link(href=f"{config['url']}#{anchor}")
        entry.published(item.created_at)
        entry.updated(updated)
        entry.content(_content(item.updates, MAINTENANCE_TEXT if kind == "maintenance" else None,
                               getattr(item, "workaround", "")), type="html")
    return fg.atom_str(pretty=False)
