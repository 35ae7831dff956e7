"""Known-issue rules with no database: which entries flag tickets, what a match is, how a search reads.

An incident with a known-issue record is an entry: *current* while the incident is open, *known*
once it is resolved. A new ticket looks like an entry when it carries **all** of the entry's tags,
or when one of the entry's match phrases is in its subject or description: the phrase's words, in
order, as whole words, ignoring case and punctuation ("log in" finds "Can't LOG-IN!" but not
"blog in"). Only entries that help whoever answers the ticket flag it: those of open incidents, and
resolved ones that say what to do (a fix or a workaround) — never a merged duplicate's, nor one
that staff switched off. A ticket that looks like several entries is flagged with the best one:
open incidents first (most severe, then newest), then known issues (most recently resolved first).
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..vocabulary import KnownIssueState

MIN_PHRASE = 3          # characters in a phrase's words, spaces between them included
MAX_SEARCH_WORDS = 10
_ASCII_PUNCTUATION = bytes(c for c in range(128) if not chr(c).isalnum() and not chr(c).isspace())
_TYPOGRAPHIC = "\u2018\u2019\u201a\u201c\u201d\u201e\u00ab\u00bb\u2013\u2014\u2026\u00b7\u00a1\u00bf"   # ‘’‚“”„«»–—…·¡¿
_PUNCTUATION = _ASCII_PUNCTUATION.decode() + _TYPOGRAPHIC
_TO_SPACE = str.maketrans({char: " " for char in _PUNCTUATION})
_ASCII_TO_SPACE = bytes.maketrans(_ASCII_PUNCTUATION, b" " * len(_ASCII_PUNCTUATION))
_REFERENCE = re.compile(r"^inc-?(\d{1,9})$")


def tokens(text: str) -> list[bytes]:
    """Text as the lower-case words a phrase is matched on (punctuation is a space), as UTF-8 bytes.

    Nearly every ticket is ASCII: lower-cased, encoded and translated as bytes, it costs a tenth of
    what `str.translate` does (which goes character by character); other text takes that way."""
    if text.isascii():
        return text.lower().encode().translate(_ASCII_TO_SPACE).split()
    return [word.encode() for word in text.lower().translate(_TO_SPACE).split()]


def words(text: str) -> list[str]:
    """The same words, as text."""
    return [word.decode() for word in tokens(text)]


def phrase_problem(phrase: str) -> str | None:
    """Why a match phrase cannot be used, or None."""
    if len(b" ".join(tokens(phrase))) < MIN_PHRASE:
        return f"a match phrase needs at least {MIN_PHRASE} letters or digits"
    return None


def state(*, is_open: bool) -> KnownIssueState:
    return KnownIssueState.CURRENT if is_open else KnownIssueState.KNOWN


def flags_tickets(*, is_open: bool, merged: bool, enabled: bool, fix: str, workaround: str,
                  tags: Sequence[str], phrases: Sequence[str]) -> bool:
    """Whether an entry flags new tickets (see the module's rule)."""
    if merged or not enabled or not (tags or phrases):
        return False
    return is_open or bool(fix.strip() or workaround.strip())


def rank_key(*, is_open: bool, severity: str, declared_at, resolved_at) -> tuple:
    """Sorts entries best first: open incidents (most severe, then newest), then the latest resolved."""
    if is_open:
        return (0, severity, -declared_at.timestamp())
    return (1, "", -(resolved_at or declared_at).timestamp())


@dataclass(frozen=True)
class Entry:
    """What matching needs of one entry; entries are given best first."""

    incident_id: int
    tags: frozenset[str] = frozenset()
    phrases: tuple[str, ...] = ()


@dataclass
class Matcher:
    """The entries indexed so that a ticket costs a few dictionary lookups, however many entries
    there are: each entry under one of its tags, each phrase under its first word."""

    by_tag: dict[str, list[tuple[int, frozenset[str], int]]] = field(default_factory=lambda: defaultdict(list))
    by_word: dict[bytes, list[tuple[int, tuple[bytes, ...], int]]] = field(default_factory=lambda: defaultdict(list))
    first_words: frozenset[bytes] = frozenset()

    @classmethod
    def build(cls, entries: Iterable[Entry]) -> Matcher:
        matcher = cls()
        for rank, entry in enumerate(entries):
            if entry.tags:
                matcher.by_tag[min(entry.tags)].append((rank, entry.tags, entry.incident_id))
            for phrase in entry.phrases:
                split = tuple(tokens(phrase))
                if split:
                    matcher.by_word[split[0]].append((rank, split, entry.incident_id))
        matcher.by_tag, matcher.by_word = dict(matcher.by_tag), dict(matcher.by_word)
        matcher.first_words = frozenset(matcher.by_word)
        return matcher

    def __bool__(self) -> bool:
        return bool(self.by_tag or self.by_word)

    def match(self, tags: Sequence[str], subject: str, description: str) -> int | None:
        """The incident id of the best entry this ticket looks like, or None."""
        best: tuple[int, int] | None = None
        if self.by_tag and tags:
            have = set(tags)
            for tag in have:
                for rank, needed, incident_id in self.by_tag.get(tag, ()):
                    if (best is None or rank < best[0]) and needed <= have:
                        best = (rank, incident_id)
        if self.by_word:
            for split in (tokens(subject), tokens(description)):
                for word in self.first_words.intersection(split):   # most tickets: none of them
                    best = self._phrases_at(split, word, best)
        return best[1] if best else None

    def _phrases_at(self, split: list[bytes], word: bytes, best: tuple[int, int] | None) -> tuple[int, int] | None:
        """The best of `best` and the phrases starting with `word` found in `split` (list.index: C speed)."""
        start = -1
        for _ in range(split.count(word)):
            start = split.index(word, start + 1)
            for rank, phrase, incident_id in self.by_word[word]:
                if (best is None or rank < best[0]) and tuple(split[start:start + len(phrase)]) == phrase:
                    best = (rank, incident_id)
        return best


def search_text(*parts: str | Iterable[str]) -> str:
    """What ?q= looks in, stored in lower case: every text field, tag, service and phrase."""
    pieces = [part if isinstance(part, str) else " ".join(part) for part in parts]
    return "\n".join(piece.strip().lower() for piece in pieces if piece.strip())


def search_terms(q: str) -> list[str]:
    """The words of a search, each of which must be found (in lower case, at most MAX_SEARCH_WORDS)."""
    return list(dict.fromkeys(q.lower().split()))[:MAX_SEARCH_WORDS]


def reference_id(term: str) -> int | None:
    """42 for "inc-42" or "inc42": a search may name the incident."""
    found = _REFERENCE.match(term)
    return int(found.group(1)) if found else None
