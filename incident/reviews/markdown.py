"""Markdown in and out: the sections people write, rendered safely; the whole review exported as Markdown.

Rendering: CommonMark (plus tables and strikethrough) by markdown-it-py with raw HTML off, so a
`<script>` someone types shows as text; links only to http, https and mailto addresses (or within
the page), each with rel="nofollow noopener noreferrer"; no images (they would load from anywhere).

Export: the sections as written, then the record, whose text (titles, update messages, names) is
escaped so that it reads as text in any Markdown renderer.
"""
from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markupsafe import Markup

from ..roles.policy import ROLES
from .policy import SECTIONS, STATUS_LABELS
from .record import KEY_TIME_LABELS, KEY_TIMES

SAFE_SCHEMES = ("http", "https", "mailto")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def safe_link(url: str) -> bool:
    """A link people may follow from a review: http, https, mailto, or a path or anchor on this site."""
    cleaned = _INVISIBLE.sub("", unquote(url)).lower()   # browsers ignore tabs and newlines inside a scheme
    match = _SCHEME.match(cleaned)
    return match is None or match.group(1) in SAFE_SCHEMES


def _link_open(self, tokens, idx, options, env):
    tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
    return self.renderToken(tokens, idx, options, env)


class _SafeMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:  # noqa: N802 (markdown-it's name)
        return safe_link(url)


_markdown = _SafeMarkdown("commonmark", {"html": False}).enable(["table", "strikethrough"]).disable("image")
_markdown.add_render_rule("link_open", _link_open)


def render(text: str) -> Markup:
    """A section's Markdown as HTML that is safe to put in a page."""
    return Markup(_markdown.render(text or ""))


# Export ----------------------------------------------------------------------------------------

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&!~])")


def md_text(value) -> str:
    """Record text (a title, a message, a name) as Markdown that reads as the same text, on one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(value or "").split()))


def when(iso: str | None) -> str:
    """'2026-11-22 09:12 UTC' from an ISO time, or an em dash."""
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC") if iso else "—"


def after(iso: str | None, start: str | None) -> str:
    """How long after `start`: '+12 min', '+2 h 05 min', '+1 d 3 h'."""
    if not iso or not start:
        return ""
    minutes = int((datetime.fromisoformat(iso) - datetime.fromisoformat(start)).total_seconds() // 60)
    return "+" + duration(minutes)


def duration(minutes: int) -> str:
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins:02d} min" if hours else f"{mins} min"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(r) + " |" for r in rows), ""]


def export(view: dict, *, chart_url: str) -> str:
    """The whole review as one Markdown document."""
    inc, times = view["incident"], view["key_times"]
    lines = [f"# {md_text(inc['reference'])} {md_text(inc['title'])}: post-incident review", "",
             f"{inc['severity']} · {STATUS_LABELS[view['status']]}"
             + (f" (published {when(view['published_at'])})" if view["published_at"] else "")
             + (f" · services: {md_text(', '.join(inc['services']))}" if inc["services"] else ""), ""]
    for name in ("summary", "impact"):
        lines += _section(name, view)
    lines += ["## Key times", ""]
    lines += _table(["", "when", "after declaring"],
                    [[KEY_TIME_LABELS[k], when(times[k]), after(times[k], times["declared_at"])] for k in KEY_TIMES])
    if view["acknowledged_by"]:
        lines += [f"Acknowledged by {md_text(view['acknowledged_by'])}.", ""]
    if view["reopened"]:
        lines += [f"Reopened {view['reopened']} time{'s' if view['reopened'] != 1 else ''} before its last resolution.",
                  ""]
    if view["merged"]:
        lines += ["Merged into it: " + "; ".join(f"{m['reference']} {md_text(m['title'])} ({m['severity']}, declared "
                                                 f"{when(m['declared_at'])})" for m in view["merged"]) + ".", ""]
    for name in ("root_cause", "went_well", "to_improve"):
        lines += _section(name, view)
    lines += _action_items(view["action_items"])
    lines += ["## The record", "", "### Who held which role", ""]
    lines += _table(["Role", "Who", "From", "To"], [[md_text(ROLES.get(t["role"], t["role"])), md_text(t["user"]),
                                                     when(t["from"]), when(t["to"]) if t["to"] else "the end"]
                                                    for t in view["roles"]])
    lines += ["### Status updates", "", *(_update(u) for u in view["updates"])] if view["updates"] else [
        "### Status updates", "", "_None._"]
    lines += ["", *_escalation(view["escalation"]), *_broadcasts(view["broadcasts"]), *_tickets(view["tickets"], chart_url)]
    return "\n".join(lines).rstrip() + "\n"


def _action_items(items: list[dict]) -> list[str]:
    if not items:
        return ["## Action items", "", "_None yet._", ""]
    rows = [[md_text(a["title"]), md_text(a["owner"]), a["due_on"], a["state"] + (" (overdue)" if a["overdue"] else ""),
             f"<{a['url']}>" if a["url"] else ""] for a in items]
    return ["## Action items", "", *_table(["Action", "Owner", "Due", "State", "Tracker"], rows)]


def _update(update: dict) -> str:
    line = f"- {when(update['at'])} · {update['status']}{'' if update['public'] else ' (internal)'}"
    if update["message"]:
        line += f": {md_text(update['message'])}"
    return line + (f" — {md_text(update['author'])}" if update["author"] else "")


def _section(name: str, view: dict) -> list[str]:
    text = (view["sections"][name] or "").strip()
    return [f"## {SECTIONS[name]}", "", text or "_Not written yet._", ""]


def _escalation(escalation: dict) -> list[str]:
    if not escalation["steps"]:
        return ["### Escalation", "", "_Not escalated._", ""]
    rows = [[md_text(s["level"]) + (f" (round {s['round'] + 1})" if s["round"] else ""), when(s["paged_at"]),
             when(s["deadline"]) if s["deadline"] else "—", _outcome(s), md_text(", ".join(s["recipients"]))]
            for s in escalation["steps"]]
    return ["### Escalation", "", f"Policy {md_text(escalation['policy'])}; {escalation['breaches']} SLA "
            f"breach{'es' if escalation['breaches'] != 1 else ''}.", "",
            *_table(["Level", "Paged", "Deadline", "Outcome", "Paged people"], rows)]


def _outcome(step: dict) -> str:
    if step["skipped"]:
        return f"skipped: {md_text(step['skipped'])}"
    if step["breached_at"]:
        return f"breached {when(step['breached_at'])}"
    if step["acknowledged_at"]:
        return f"acknowledged {when(step['acknowledged_at'])}"
    return "—"


def _broadcasts(broadcasts: list[dict]) -> list[str]:
    if not broadcasts:
        return ["### Broadcasts", "", "_None._", ""]
    rows = [[b["kind"], md_text(", ".join(b["channels"])), when(b["send_at"]), str(b["sends"]), b["status"],
             *(str(b["counts"].get(k, 0)) for k in ("sent", "delivered", "failed", "skipped"))] for b in broadcasts]
    return ["### Broadcasts", "", *_table(["Kind", "Channels", "First send", "Sends", "Status", "Sent", "Delivered",
                                           "Failed", "Skipped"], rows)]


def _tickets(tickets: dict, chart_url: str) -> list[str]:
    tags = ", ".join(f"{md_text(tag)} ({count})" for tag, count in tickets["top_tags"])
    return ["### Tickets", "", f"{tickets['linked']} linked ticket{'s' if tickets['linked'] != 1 else ''}"
            + (f"; top tags: {tags}" if tags else "") + ".", "", f"Flood chart: <{chart_url}>", ""]
