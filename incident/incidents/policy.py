"""Incident lifecycle rules: pure functions, no database."""
from __future__ import annotations

from ..vocabulary import IncidentStatus, Mode, Severity

SEVERITIES = tuple(Severity)
SEVERITY_LABELS = {Severity.SEV1: "critical", Severity.SEV2: "major", Severity.SEV3: "moderate",
                   Severity.SEV4: "minor"}
STATUSES = tuple(IncidentStatus)
OPEN_STATUSES = STATUSES[:-1]
MODES = tuple(Mode)


NOTIFY_BY_DEFAULT = frozenset({Severity.SEV1, Severity.SEV2})   # a public update tells subscribers unless unticked


def notifies_subscribers(severity: str, public: bool, asked: bool | None) -> bool:
    """Whether a status update goes to the subscribers: only a public one; as asked, else by severity."""
    if not public:
        return False
    return severity in NOTIFY_BY_DEFAULT if asked is None else asked


class TransitionRefused(ValueError):
    """A status change that the lifecycle does not allow."""


def check_transition(current: str, new: str) -> str:
    """How moving from `current` to `new` reads: 'same', 'changed', 'resolved' or 'reopened'.

    Open incidents move freely between the open statuses (a fix that did not hold sends
    monitoring back to identified) and can be resolved; a resolved incident can only be
    reopened, which puts it back to investigating.
    """
    if new not in STATUSES:
        raise TransitionRefused(f"unknown status {new!r}; one of {', '.join(STATUSES)}")
    if current == new:
        return "same"
    if current == "resolved":
        if new != "investigating":
            raise TransitionRefused("a resolved incident can only be reopened (status 'investigating')")
        return "reopened"
    return "resolved" if new == "resolved" else "changed"
