"""Request schemas for known issues, and how an entry reads in the API."""
from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from ..api import Strict
from ..clock import isoformat
from ..incidents.models import Incident
from ..tickets.policy import decode_words
from ..tickets.schemas import Tag
from ..validation import Slug, schema_rules
from . import policy
from .models import KnownIssue

MAX_TEXT = 10_000
MAX_WORKAROUND = 1_000


def _phrase(value: str) -> str:
    problem = policy.phrase_problem(value)
    if problem:
        raise ValueError(problem)
    return " ".join(value.split())


Phrase = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_phrase),
                   WithJsonSchema({"type": "string", "minLength": policy.MIN_PHRASE, "maxLength": 100,
                                   "description": "words found in order, whole, in a ticket's subject or description "
                                                  f"(at least {policy.MIN_PHRASE} letters or digits)"})]


class KnownIssueIn(Strict):
    """PUT: the whole record (fields left out are emptied), except `services`: left out, the incident's."""

    model_config = ConfigDict(json_schema_extra=schema_rules(anyOf=[
        {"required": [name], "properties": {name: {"pattern": r"\S"}}}
        for name in ("workaround", "symptoms", "cause", "fix")]))

    workaround: str = Field("", max_length=MAX_WORKAROUND,
                            description="public: on the status page while the incident is open, and in broadcasts "
                                        "that ask for it")
    symptoms: str = Field("", max_length=MAX_TEXT)
    cause: str = Field("", max_length=MAX_TEXT)
    fix: str = Field("", max_length=MAX_TEXT)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    services: list[Slug] = Field(default_factory=list, max_length=20)
    match_phrases: list[Phrase] = Field(default_factory=list, max_length=20)
    flag_tickets: bool = True

    @field_validator("tags", "services", "match_phrases")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _something(self):
        if not (self.workaround or self.symptoms or self.cause or self.fix):
            raise ValueError("say something: a workaround, the symptoms, the cause or the fix")
        return self


def known_issue_to_dict(row: KnownIssue, incident: Incident, *, matched_tickets: int = 0) -> dict:
    """The entry as the API shows it (staff only: it carries the internal fields)."""
    tags, phrases = decode_words(row.tags), list(row.match_phrases or [])
    return {
        "incident_id": incident.id, "reference": incident.reference, "title": incident.title,
        "severity": incident.severity, "incident_status": incident.status,
        "state": policy.state(is_open=incident.is_open), "resolved_at": isoformat(incident.resolved_at),
        "merged_into": incident.merged_into_id,
        "workaround": row.workaround, "symptoms": row.symptoms, "cause": row.cause, "fix": row.fix,
        "tags": tags, "services": decode_words(row.services), "match_phrases": phrases,
        "flag_tickets": row.flag_tickets,
        "flags_tickets_now": policy.flags_tickets(is_open=incident.is_open, merged=incident.merged_into_id is not None,
                                                  enabled=row.flag_tickets, fix=row.fix, workaround=row.workaround,
                                                  tags=tags, phrases=phrases),
        "matched_tickets": matched_tickets,
        "created_at": isoformat(row.created_at), "updated_at": isoformat(row.updated_at),
        "updated_by": row.updated_by.email if row.updated_by else None,
    }
