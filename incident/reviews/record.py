"""The record a review is built on, read from what Tocsin kept while the incident ran.

Key times, who held which role and when, the status updates, the escalation's steps and breaches,
the broadcasts with their delivery counts, and the flood chart's figures — as one JSON-ready dict.
A review being written reads it live (late delivery receipts, a reopened incident's new events
show up); publishing freezes it into the review, so a published review never changes under its
readers. Every query is by incident and small (dozens of rows), except the flood figures, which
the database counts per timestamp.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..broadcast.models import Broadcast, BroadcastSend
from ..broadcast.service import counts_by_broadcast
from ..clock import isoformat, utcnow
from ..escalation.models import Acknowledgement, EscalationStep, IncidentEscalation
from ..extensions import db
from ..incidents.models import Incident, IncidentUpdate, TimelineEvent
from ..outbox.models import Delivery
from ..roles.models import RoleAssignment
from ..roles.schemas import term_to_dict
from ..tickets.stats import chart_markers, flood_figures
from ..vocabulary import IncidentStatus

KEY_TIMES = ("declared_at", "first_paged_at", "acknowledged_at", "first_public_update_at", "mitigated_at",
             "resolved_at")
KEY_TIME_LABELS = {"declared_at": "Declared", "first_paged_at": "First page", "acknowledged_at": "Acknowledged",
                   "first_public_update_at": "First public update", "mitigated_at": "Mitigated (monitoring)",
                   "resolved_at": "Resolved"}


def build_record(incident: Incident) -> dict:
    """Everything the review shows of the incident's record, as it stands now (no writes)."""
    changes = _status_changes(incident.id)
    return {
        "built_at": isoformat(utcnow()),
        "incident": {"reference": incident.reference, "title": incident.title, "severity": incident.severity,
                     "services": [s.name for s in incident.services], "mode": incident.mode,
                     "summary": incident.summary},
        "key_times": _key_times(incident, changes),
        "acknowledged_by": _first_acknowledger(incident.id),
        "reopened": sum(1 for data in changes if data.get("reopened")),
        "roles": _roles(incident.id),
        "updates": _updates(incident.id),
        "escalation": _escalation(incident.id),
        "broadcasts": _broadcasts(incident.id),
        "tickets": _tickets(incident),
        "merged": _merged(incident.id),
    }


def _merged(incident_id: int) -> list[dict]:
    """The duplicates merged into the incident (their tickets, rules and notes are in its record)."""
    rows = db.session.execute(select(Incident.id, Incident.title, Incident.severity, Incident.declared_at)
                              .where(Incident.merged_into_id == incident_id).order_by(Incident.declared_at))
    return [{"id": id_, "reference": f"INC-{id_}", "title": title, "severity": severity,
             "declared_at": isoformat(declared_at)} for id_, title, severity, declared_at in rows]


def _status_changes(incident_id: int) -> list[dict]:
    """The incident's status changes, oldest first, with when they happened."""
    rows = db.session.execute(select(TimelineEvent.at, TimelineEvent.data).where(
        TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "status_changed")
        .order_by(TimelineEvent.at, TimelineEvent.id))
    return [{**(data or {}), "at": at} for at, data in rows]


def _key_times(incident: Incident, changes: list[dict]) -> dict:
    first_page = db.session.scalar(select(func.min(Delivery.sent_at)).where(
        Delivery.incident_id == incident.id, Delivery.purpose == "page", Delivery.sent_at.is_not(None)))
    first_public = db.session.scalar(select(func.min(IncidentUpdate.created_at)).where(
        IncidentUpdate.incident_id == incident.id, IncidentUpdate.public.is_(True)))
    mitigated = next((c["at"] for c in changes if c.get("to") == IncidentStatus.MONITORING), None)
    return {"declared_at": isoformat(incident.declared_at), "first_paged_at": isoformat(first_page),
            "acknowledged_at": isoformat(incident.acknowledged_at),
            "first_public_update_at": isoformat(first_public), "mitigated_at": isoformat(mitigated),
            "resolved_at": isoformat(incident.resolved_at)}


def _first_acknowledger(incident_id: int) -> str | None:
    return db.session.scalar(select(Acknowledgement.who).where(
        Acknowledgement.incident_id == incident_id, Acknowledgement.outcome == "first")
        .order_by(Acknowledgement.at, Acknowledgement.id).limit(1))


def _roles(incident_id: int) -> list[dict]:
    terms = db.session.scalars(
        select(RoleAssignment).options(selectinload(RoleAssignment.user), selectinload(RoleAssignment.assigned_by),
                                       selectinload(RoleAssignment.relieved_by))
        .where(RoleAssignment.incident_id == incident_id).order_by(RoleAssignment.assigned_at, RoleAssignment.id))
    return [term_to_dict(term) for term in terms]


def _updates(incident_id: int) -> list[dict]:
    rows = db.session.scalars(select(IncidentUpdate).options(selectinload(IncidentUpdate.author))
                              .where(IncidentUpdate.incident_id == incident_id)
                              .order_by(IncidentUpdate.created_at, IncidentUpdate.id))
    return [{"at": isoformat(u.created_at), "status": u.status, "message": u.message, "public": u.public,
             "author": u.author.email if u.author else None} for u in rows]


def _escalation(incident_id: int) -> dict:
    policy = db.session.scalar(select(IncidentEscalation.policy_name).where(
        IncidentEscalation.incident_id == incident_id))
    steps = [{"level": s.level_name, "round": s.round, "paged_at": isoformat(s.paged_at),
              "deadline": isoformat(s.deadline), "breached_at": isoformat(s.breached_at),
              "acknowledged_at": isoformat(s.acknowledged_at), "skipped": s.skipped,
              "recipients": list(s.recipients or []), "channels": list(s.channels or [])}
             for s in db.session.scalars(select(EscalationStep).where(EscalationStep.incident_id == incident_id)
                                         .order_by(EscalationStep.id))]
    return {"policy": policy, "steps": steps, "breaches": sum(1 for s in steps if s["breached_at"])}


def _broadcasts(incident_id: int) -> list[dict]:
    rows = db.session.scalars(select(Broadcast).where(Broadcast.incident_id == incident_id).order_by(Broadcast.id)).all()
    counts = counts_by_broadcast([b.id for b in rows])
    sends = dict(db.session.execute(select(BroadcastSend.broadcast_id, func.count()).where(
        BroadcastSend.broadcast_id.in_([b.id for b in rows]), BroadcastSend.prepared_at.is_not(None))
        .group_by(BroadcastSend.broadcast_id)).tuples().all()) if rows else {}
    return [{"id": b.id, "kind": b.kind, "channels": list(b.channels), "status": b.status,
             "send_at": isoformat(b.send_at), "repeat_every_minutes": b.repeat_every_minutes,
             "sends": sends.get(b.id, 0), "counts": counts[b.id]} for b in rows]


def _tickets(incident: Incident) -> dict:
    figures = flood_figures(incident)
    return {"linked": figures["total"], "bucket_minutes": figures["bucket_minutes"], "buckets": figures["buckets"],
            "top_tags": [list(pair) for pair in figures["top_tags"][:5]],
            "markers": [[isoformat(at), label] for at, label in chart_markers(incident.id)]}
