"""The audit list's filters, read from query parameters: pure, no database."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from ..validation import parse_instant
from ..vocabulary import AuditKind

KINDS = tuple(AuditKind)
MAX_ACTOR = 254


class AuditParamsInvalid(ValueError):
    def __init__(self, details: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in details.items()))
        self.details = details


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None     # included
    until: datetime | None = None     # excluded
    actor: str | None = None          # an email (any case), "cli" or "system"
    kinds: tuple[str, ...] = ()       # any of them; empty: all

    def as_args(self) -> dict[str, str]:
        """The filter as query parameters again (for the CSV link and the next page)."""
        args = {"since": self.since.isoformat() if self.since else "",
                "until": self.until.isoformat() if self.until else "",
                "actor": self.actor or "", "kind": ",".join(self.kinds)}
        return {key: value for key, value in args.items() if value}


def parse_filter(args: Mapping[str, str | Iterable[str]]) -> AuditFilter:
    """since / until: ISO 8601 with an offset, or a date (since: its start, until: its end, UTC);
    actor: one; kind: repeatable or comma-separated. Every problem is reported at once."""
    values = {key: [v.strip() for v in ([vals] if isinstance(vals, str) else vals) if v.strip()]
              for key, vals in args.items()}
    problems: dict[str, str] = {}
    since = parse_instant(values.get("since", []), "since", problems, end_of_day=False)
    until = parse_instant(values.get("until", []), "until", problems, end_of_day=True)
    if since and until and until <= since:
        problems["until"] = "must be after since"
    actor = None
    if len(values.get("actor", [])) > 1:
        problems["actor"] = "give it once"
    elif values.get("actor"):
        actor = values["actor"][0].lower()
        if len(actor) > MAX_ACTOR:
            problems["actor"] = f"at most {MAX_ACTOR} characters"
    kinds = tuple(dict.fromkeys(k.strip() for raw in values.get("kind", []) for k in raw.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        problems["kind"] = f"unknown {', '.join(repr(k[:40]) for k in unknown)}; one of {', '.join(KINDS)}"
    if problems:
        raise AuditParamsInvalid(problems)
    return AuditFilter(since=since, until=until, actor=actor, kinds=kinds)


def diff(before: dict | None, after: dict | None) -> dict[str, list]:
    """{field: [before, after]} for each field that differs (a created or deleted object: all of them)."""
    before, after = before or {}, after or {}
    return {key: [before.get(key), after.get(key)] for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)}
