"""Alerts in: dedupe by fingerprint, attach to the open incident of their service, or wait in the
possible-outage box; rules declare and page. One notification is one unit of work."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select, text

from ..auth.models import User
from ..catalog import Service
from ..clock import utcnow
from ..config import AlertRule
from ..escalation.service import escalate, policy_for
from ..extensions import db
from ..incidents import slack_rooms
from ..incidents.models import Incident, incident_services
from ..incidents.policy import OPEN_STATUSES
from ..incidents.service import open_incident
from ..incidents.timeline import record
from ..uow import use_case
from .models import Alert, AlertSource
from .payloads import IncomingAlert, Notification
from .policy import matching_rule, service_of, title_of

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one notification did: `202 {"alerts", "attached_to", "signals"}`."""

    alerts: int = 0
    attached_to: set[int] = field(default_factory=set)
    signals: set[str] = field(default_factory=set)   # possible-outage entries (by service) holding its alerts
    declared: list[int] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"alerts": self.alerts, "attached_to": sorted(self.attached_to), "signals": len(self.signals)}


@use_case
def receive_notification(source: AlertSource, notification: Notification) -> Outcome:
    """Record a notification's alerts, once each by fingerprint, and put each where it belongs."""
    label, rules = current_app.config["ALERT_SERVICE_LABEL"], current_app.config["ALERT_RULES"]
    latest = {alert.fingerprint: alert for alert in notification.alerts}   # the same alert twice: the last says
    known = {row.fingerprint: row for row in db.session.scalars(
        select(Alert).where(Alert.fingerprint.in_(list(latest))))} if latest else {}
    run = _Run(source, notification, rules)
    for fingerprint, incoming in latest.items():
        row, news = _upsert(known.get(fingerprint), incoming, source, notification, label)
        run.place(row, incoming, news)
    run.outcome.alerts = len(notification.alerts)
    if notification.truncated:
        logger.warning("%s %s left out %d alert(s) (max_alerts): they arrive with a later notification or not at all",
                       notification.kind, source.name, notification.truncated)
    logger.info("%s %s: %d alert(s), attached to %s, %d possible outage(s)", notification.kind, source.name,
                run.outcome.alerts, sorted(run.outcome.attached_to) or "none", len(run.outcome.signals))
    return run.outcome


def _upsert(row: Alert | None, incoming: IncomingAlert, source: AlertSource, notification: Notification,
            label: str) -> tuple[Alert, bool]:
    """The alert's row, brought up to date; True when this is news (new, fired again, or resolved)."""
    now = utcnow()
    if row is None:
        row = Alert(fingerprint=incoming.fingerprint, first_received_at=now, received=0)
        db.session.add(row)
        news = True
    else:
        # news: it changed state, or fires anew (a later start: the resolved notification was missed)
        news = row.status != incoming.status or (incoming.firing and incoming.starts_at is not None
                                                 and row.starts_at is not None and incoming.starts_at > row.starts_at)
    row.source, row.kind, row.status = source.name, notification.kind, incoming.status
    row.name = (incoming.labels.get("alertname") or "")[:200]
    row.service = service_of(incoming.labels, label)
    row.labels, row.annotations, row.group_key = incoming.labels, incoming.annotations, notification.group_key
    row.links = {**incoming.links, **({"generatorURL": incoming.generator_url} if incoming.generator_url else {})}
    row.starts_at = incoming.starts_at or row.starts_at
    row.ends_at = incoming.ends_at if not incoming.firing else None
    row.last_received_at, row.received = now, (row.received or 0) + 1
    return row, news


class _Run:
    """Placing one notification's alerts, remembering the incidents found or declared on the way."""

    def __init__(self, source: AlertSource, notification: Notification, rules: tuple[AlertRule, ...]):
        self.source, self.notification, self.rules = source, notification, rules
        self.outcome = Outcome()
        self.by_service: dict[str, Incident | None] = {}

    def place(self, row: Alert, incoming: IncomingAlert, news: bool) -> None:
        current = db.session.get(Incident, row.incident_id) if row.incident_id else None
        if not incoming.firing:
            if current is not None:
                self.outcome.attached_to.add(current.id)
                if news:
                    record(current, "alert_resolved", self.source_label, _event(row))
            return
        if current is not None and current.is_open:
            self.outcome.attached_to.add(current.id)
            if news:
                record(current, "alert_refired", self.source_label, _event(row))
            return
        incident = self.open_incident_for(row)
        if incident is None and news:
            incident = self.declare_by_rule(row)
        if incident is None:
            self.outcome.signals.add(row.service or "")
            return
        attach(row, incident, self.source_label)
        self.outcome.attached_to.add(incident.id)

    @property
    def source_label(self) -> str:
        return f"{self.notification.kind}:{self.source.name}"

    def open_incident_for(self, row: Alert) -> Incident | None:
        key = _where(row)
        if key not in self.by_service:
            self.by_service[key] = self._look(row)
        return self.by_service[key]

    def _look(self, row: Alert) -> Incident | None:
        return open_incident_on(row.service) if row.service else _open_incident_of_group(self.source.name,
                                                                                        row.group_key)

    def declare_by_rule(self, row: Alert) -> Incident | None:
        rule = matching_rule(self.rules, row.labels)
        if rule is None:
            return None
        key = _where(row)
        _one_declaring_at_a_time(row.service or f"{self.source.name}/{row.group_key}")
        incident = self._look(row)   # another notification may have declared while this one waited
        if incident is None:
            incident = declare_for_rule(row, rule, self.source_label)
            self.outcome.declared.append(incident.id)
        self.by_service[key] = incident
        return incident


def _where(row: Alert) -> str:
    """Where an alert belongs: its service, else its Alertmanager group."""
    return row.service or f"group:{row.group_key}"


def _one_declaring_at_a_time(key: str) -> None:
    """PostgreSQL: one transaction at a time may declare for a service (an advisory lock held until the
    commit), so two notifications arriving together declare one incident. SQLite has one writer."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    number = int.from_bytes(hashlib.sha256(f"tocsin-alerts:{key}".encode()).digest()[:8], "big", signed=True)
    db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": number})


def attach(row: Alert, incident: Incident, actor: User | str) -> None:
    """Put a firing alert on an incident: one timeline event, however often the alert is sent again."""
    moved_from = row.incident_id if row.incident_id != incident.id else None
    row.incident_id = incident.id
    record(incident, "alert_attached", actor, {**_event(row), **({"from": f"INC-{moved_from}"} if moved_from else {})})


def _event(row: Alert) -> dict:
    """What the timeline keeps of an alert: enough to read it without the monitoring system."""
    data = {"alert": row.name, "fingerprint": row.fingerprint, "service": row.service, "source": row.source,
            "severity": row.labels.get("severity"), "summary": row.annotations.get("summary") or
            row.annotations.get("description"), "url": row.links.get("generatorURL"),
            "starts_at": row.starts_at.isoformat() if row.starts_at else None,
            "ends_at": row.ends_at.isoformat() if row.ends_at else None}
    return {key: value for key, value in data.items() if value}


def open_incident_on(service: str) -> Incident | None:
    """The open incident affecting this service: the most severe, then the newest."""
    return db.session.scalar(
        select(Incident).join(incident_services, incident_services.c.incident_id == Incident.id)
        .join(Service, Service.id == incident_services.c.service_id)
        .where(Service.name == service, Incident.status.in_(OPEN_STATUSES), Incident.merged_into_id.is_(None))
        .order_by(Incident.severity, Incident.declared_at.desc(), Incident.id.desc()).limit(1))


def _open_incident_of_group(source: str, group_key: str) -> Incident | None:
    """For alerts naming no service: the open incident already holding alerts of the same group."""
    if not group_key:
        return None
    return db.session.scalar(
        select(Incident).join(Alert, Alert.incident_id == Incident.id)
        .where(Alert.source == source, Alert.group_key == group_key, Incident.status.in_(OPEN_STATUSES),
               Incident.merged_into_id.is_(None))
        .order_by(Incident.declared_at.desc()).limit(1))


def declare_for_rule(row: Alert, rule: AlertRule, actor: str) -> Incident:
    """A rule matched a new alert with no incident: declare (reusing the incidents service) and page its level."""
    services = [row.service] if row.service else []
    summary = (row.annotations.get("description") or "").strip()
    incident = open_incident(actor, title=title_of(row.labels, row.annotations, row.service), severity=rule.severity,
                             summary=summary, services=services)
    slack_rooms.open_room(incident, commander=None, invite=[])
    matched = {"rule": str(rule), "alert": row.name, "fingerprint": row.fingerprint}
    reason = _cannot_page(rule, incident.severity, services)
    if reason:
        record(incident, "alert_rule_matched", actor, {**matched, "escalated": False, "reason": reason})
    else:
        record(incident, "alert_rule_matched", actor, {**matched, "escalated": True, "level": rule.level})
        escalate(None, incident.id, level=rule.level, reason=f"alert {row.name or row.fingerprint} matched {rule}")
    logger.warning("alert rule %s declared %s for alert %s", rule, incident.reference, row.fingerprint)
    return incident


def _cannot_page(rule: AlertRule, severity: str, services: list[str]) -> str | None:
    """Why the rule's level cannot be paged (no level, no policy, no such level), else None."""
    if not rule.level:
        return "the rule names no escalation level"
    policy = policy_for(severity, services)
    if policy is None:
        return "no escalation policy applies"
    levels = [level.get("name") for level in policy.definition.get("levels", [])]
    if rule.level not in levels:
        return f"policy {policy.name} has no level {rule.level}"
    return None
