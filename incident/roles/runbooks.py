"""Runbooks: Markdown files in runbooks/ whose task-list items become role checklists.

A runbook's front matter says which crisis roles, severities and services it applies to;
its `- [ ] item` lines, grouped under `## ` headings, are the checklist.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
from flask import current_app
from markdown_it import MarkdownIt

from ..incidents.policy import SEVERITIES
from ..validation import SLUG_RE
from .policy import ROLES

ITEM_RE = re.compile(r"^- \[ \] (.+)$")
_markdown = MarkdownIt("commonmark", {"html": False})


class RunbookError(ValueError):
    """A runbook file that cannot be used, with the file and the reason."""


@dataclass(frozen=True)
class Item:
    key: str
    text: str


@dataclass(frozen=True)
class Section:
    title: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Runbook:
    slug: str
    title: str
    summary: str
    roles: tuple[str, ...]
    severities: tuple[str, ...]
    services: tuple[str, ...]
    intro_html: str
    sections: tuple[Section, ...] = field(default=())

    def applies_to(self, *, role: str, severity: str, services: set[str]) -> bool:
        """True for a holder of `role` on an incident of this severity and these services."""
        if role not in self.roles or severity not in self.severities:
            return False
        return not self.services or bool(services.intersection(self.services))

    @property
    def items(self) -> list[Item]:
        return [item for section in self.sections for item in section.items]


def item_key(text: str) -> str:
    """A stable key for a checklist item: it survives reordering, not rewording."""
    return hashlib.sha1(" ".join(text.lower().split()).encode()).hexdigest()[:12]


def _string_list(meta: dict, key: str, allowed, default, where: str) -> tuple[str, ...]:
    value = meta.get(key)
    if value is None or value == []:
        return tuple(default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RunbookError(f"{where}: '{key}' must be a list of strings")
    bad = [v for v in value if not allowed(v)]
    if bad:
        raise RunbookError(f"{where}: unknown {key} {', '.join(bad)}")
    return tuple(value)


def parse_runbook(path: Path) -> Runbook:
    """Read one runbook file; RunbookError says what is wrong with it."""
    where = path.name
    try:
        post = frontmatter.loads(path.read_text(encoding="utf-8"))
    except Exception as error:  # YAML errors come in several classes
        raise RunbookError(f"{where}: front matter does not parse: {error}") from None
    meta: dict[str, Any] = post.metadata
    for key in ("title", "summary"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise RunbookError(f"{where}: '{key}' is required")
    roles = _string_list(meta, "roles", ROLES.__contains__, (), where)
    if not roles:
        raise RunbookError(f"{where}: 'roles' must name at least one crisis role")
    severities = _string_list(meta, "severities", SEVERITIES.__contains__, SEVERITIES, where)
    services = _string_list(meta, "services", lambda s: bool(SLUG_RE.match(s)), (), where)
    items: list[Item]
    intro, sections, title, items, seen = [], [], None, [], set()
    for line in post.content.splitlines():
        if line.startswith("## "):
            if title is not None or items:
                sections.append(Section(title or "Checklist", tuple(items)))
            title, items = line[3:].strip(), []
        elif match := ITEM_RE.match(line.rstrip()):
            text = match.group(1).strip()
            key = item_key(text)
            if key in seen:
                raise RunbookError(f"{where}: item repeated: {text!r}")
            seen.add(key)
            items.append(Item(key, text))
        elif title is None:
            intro.append(line)
    if title is not None or items:
        sections.append(Section(title or "Checklist", tuple(items)))
    if not seen:
        raise RunbookError(f"{where}: no checklist items ('- [ ] ...' lines)")
    return Runbook(slug=path.stem, title=meta["title"].strip(), summary=meta["summary"].strip(),
                   roles=roles, severities=severities, services=services,
                   intro_html=_markdown.render("\n".join(intro)).strip(), sections=tuple(sections))


def load_runbooks(directory: str | os.PathLike) -> list[Runbook]:
    """Every runbook in a folder, by file name; the first bad file stops the load."""
    return [parse_runbook(path) for path in sorted(Path(directory).glob("*.md"))
            if path.name.lower() != "readme.md"]


def get_runbooks() -> list[Runbook]:
    """The app's runbooks, reloaded when a file in the folder changes."""
    directory = Path(current_app.config["RUNBOOKS_DIR"])
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(directory.glob("*.md")))
    cache = current_app.extensions.setdefault("tocsin_runbooks", {})
    if cache.get("stamp") != stamp:
        cache["runbooks"] = load_runbooks(directory)
        cache["stamp"] = stamp
    return cache["runbooks"]


def runbooks_for(*, role: str, severity: str, services: set[str]) -> list[Runbook]:
    """The runbooks whose checklists a holder of `role` sees on such an incident."""
    return [rb for rb in get_runbooks() if rb.applies_to(role=role, severity=severity, services=services)]


def find_item(slug: str, key: str) -> tuple[Runbook, Item] | None:
    for runbook in get_runbooks():
        if runbook.slug == slug:
            for item in runbook.items:
                if item.key == key:
                    return runbook, item
    return None
