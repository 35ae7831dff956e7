"""Ticket rules with no database: tag words, content hashes, and what a filter or rule matches."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

TAG_RE = re.compile(r"^[a-z0-9][a-z0-9:._/+-]{0,62}$")
LINK_METHODS = ("manual", "filter", "rule", "import", "merge")


def normalize_tag(raw: str) -> str:
    """Lower-case, inner spaces to '_'; ValueError for what cannot be a tag."""
    value = "_".join(raw.strip().lower().split())
    if not TAG_RE.match(value):
        raise ValueError(f"not a tag: {raw!r} (letters, digits and : . _ / + -, at most 63)")
    return value


def encode_words(words) -> str:
    """Tags or services as stored: ' a b ' (sorted, unique), so LIKE '% a %' finds a whole word."""
    return " " + " ".join(sorted(set(words))) + " " if words else " "


def decode_words(stored: str | None) -> list[str]:
    return (stored or "").split()


def content_hash(values: tuple) -> str:
    """What decides whether a re-sent ticket changed anything."""
    return hashlib.blake2b(repr(values).encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class TicketFilter:
    """Which tickets: all `tags`, any of `services`, `text` in subject or description, a time window."""

    tags: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    text: str = ""
    since: datetime | None = None
    until: datetime | None = None
    unlinked_only: bool = False
    incident_id: int | None = None
    source: str | None = None
    exclude: tuple = field(default=())

    @property
    def narrows(self) -> bool:
        """True when it says something about the tickets' content or time, not only their link."""
        return bool(self.tags or self.services or self.text or self.since or self.until or self.source)

    def as_dict(self) -> dict:
        data = {"tags": list(self.tags), "services": list(self.services), "text": self.text,
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "unlinked_only": self.unlinked_only, "source": self.source}
        return {k: v for k, v in data.items() if v not in (None, "", [], False)}


def matches(rule: TicketFilter, *, tags: set[str], services: set[str], subject: str, description: str,
            created_at: datetime | None = None) -> bool:
    """The Python twin of the SQL filter, for rules checked on arrival (a test keeps them agreeing)."""
    if rule.tags and not set(rule.tags) <= tags:
        return False
    if rule.services and not services.intersection(rule.services):
        return False
    if rule.text:
        needle = rule.text.lower()
        if needle not in subject.lower() and needle not in description.lower():
            return False
    if created_at is not None:
        if rule.since and created_at < rule.since:
            return False
        if rule.until and created_at > rule.until:
            return False
    return True
