"""Request schemas for incidents, and how an incident reads in the API."""
from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from ..api import Strict
from ..clock import isoformat
from ..validation import Email, Slug, schema_rules
from .models import Incident, IncidentUpdate, TimelineEvent
from .policy import SEVERITIES, STATUSES

Severity = Literal[SEVERITIES]  # type: ignore[valid-type]
Status = Literal[STATUSES]  # type: ignore[valid-type]


class DeclareIncident(Strict):
    title: str = Field(min_length=1, max_length=200)
    severity: Severity
    summary: str = Field("", max_length=10_000)
    services: list[Slug] = Field(default_factory=list, max_length=50)
    mode: Literal["tiered", "swarm"] = "tiered"
    commander: Email | None = None
    private: bool = False


class EditIncident(Strict):
    model_config = ConfigDict(json_schema_extra=schema_rules(
        not_null=("title", "severity", "summary", "services", "solve_tickets_on_resolve", "private"), minProperties=1))

    title: str | None = Field(None, min_length=1, max_length=200)
    severity: Severity | None = None
    summary: str | None = Field(None, max_length=10_000)
    services: list[Slug] | None = Field(None, max_length=50)
    solve_tickets_on_resolve: bool | None = None
    private: bool | None = None

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError("nothing to change: give title, severity, summary, services, solve_tickets_on_resolve "
                             "or private")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class PostUpdate(Strict):
    model_config = ConfigDict(json_schema_extra=schema_rules(anyOf=[
        {"required": ["status"], "properties": {"status": {"type": "string"}}},
        {"required": ["message"], "properties": {"message": {"pattern": r"\S"}}}]))

    status: Status | None = None
    message: str = Field("", max_length=5_000)
    public: bool = True
    notify_subscribers: bool | None = Field(
        None, description="tell the subscribers of what the incident affects (public updates only); "
                          "default: true for SEV1 and SEV2, false otherwise")

    @model_validator(mode="after")
    def _something(self):
        if self.status is None and not self.message:
            raise ValueError("give a status, a message, or both")
        return self


class Note(Strict):
    text: str = Field(min_length=1, max_length=5_000)


def update_to_dict(update: IncidentUpdate) -> dict:
    return {"id": update.id, "status": update.status, "message": update.message,
            "public": update.public, "notify_subscribers": update.notify_subscribers,
            "created_at": isoformat(update.created_at),
            "author": update.author.email if update.author else None}


def event_to_dict(event: TimelineEvent) -> dict:
    return {"id": event.id, "at": isoformat(event.at), "kind": event.kind,
            "actor": event.actor, "data": event.data or {}}


def incident_to_dict(incident: Incident, *, roles: dict, linked_tickets: int = 0) -> dict:
    """The incident as API.md shows it."""
    return {
        "id": incident.id,
        "reference": incident.reference,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "summary": incident.summary,
        "services": [service.name for service in incident.services],
        "mode": incident.mode,
        "declared_at": isoformat(incident.declared_at),
        "declared_by": incident.declared_by.email if incident.declared_by else None,
        "updated_at": isoformat(incident.updated_at),
        "acknowledged_at": isoformat(incident.acknowledged_at),
        "resolved_at": isoformat(incident.resolved_at),
        "roles": roles,
        "linked_tickets": linked_tickets,
        "escalation": {"level": None, "policy": incident.escalation_policy, "next_deadline_at": None},
        "solve_tickets_on_resolve": incident.solve_tickets_on_resolve,
        "merged_into": incident.merged_into_id,
        "private": incident.private,
    }


class MemberIn(Strict):
    email: Email


def member_to_dict(member) -> dict:
    return {"user": member.user.email, "name": member.user.name, "how": member.how,
            "added_at": isoformat(member.added_at)}
