"""Pure rules about alerts: which rule an alert matches, its service, its fingerprint, its title."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from ..config import AlertRule, LabelMatcher
from ..validation import SLUG_RE

TITLE_MAX = 200


def matches(matcher: LabelMatcher, labels: Mapping[str, str]) -> bool:
    """Alertmanager's semantics: a missing label reads as the empty string; a regex matches the whole value."""
    value = labels.get(matcher.name, "")
    if matcher.op == "=":
        return value == matcher.value
    if matcher.op == "!=":
        return value != matcher.value
    found = re.fullmatch(matcher.value, value) is not None
    return found if matcher.op == "=~" else not found


def matching_rule(rules: Iterable[AlertRule], labels: Mapping[str, str]) -> AlertRule | None:
    """The first rule whose every matcher holds for these labels, or None."""
    return next((rule for rule in rules if all(matches(m, labels) for m in rule.matchers)), None)


def service_of(labels: Mapping[str, str], label: str) -> str | None:
    """The service an alert is about: its `label` as a catalogue name (lower case), None if absent or not one."""
    value = (labels.get(label) or "").strip().lower()
    return value if SLUG_RE.match(value) else None


def fingerprint(labels: Mapping[str, str]) -> str:
    """For senders that give none: 16 hex digits of a hash of the sorted labels (the same labels, the same alert)."""
    canonical = "\x1f".join(f"{name}\x1e{value}" for name, value in sorted(labels.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def title_of(labels: Mapping[str, str], annotations: Mapping[str, str], service: str | None) -> str:
    """An incident title for an alert: its summary annotation, else its name and service."""
    summary = " ".join((annotations.get("summary") or "").split())
    if not summary:
        name = labels.get("alertname") or "Alert"
        summary = f"{name} on {service}" if service else name
    return summary if len(summary) <= TITLE_MAX else summary[:TITLE_MAX - 1] + "…"
