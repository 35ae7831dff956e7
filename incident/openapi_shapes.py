"""The JSON schemas of what /api/v1 answers, for the OpenAPI document (incident/openapi.py).

Written by hand from the `*_to_dict` functions and the services' return values; the fuzz test
(tests/test_openapi_fuzz.py) checks every answer against them, so they cannot drift unnoticed.
Objects list every key they always carry as required, and allow more (the API may add keys).
"""
from __future__ import annotations

from .escalation.policy import CHANNELS, MAX_REPEAT, MAX_TIMEOUT, MIN_TIMEOUT, TARGET_KINDS
from .incidents.policy import MODES, SEVERITIES, STATUSES
from .validation import SLUG_RE

INT = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
STR_OR_NULL = {"type": ["string", "null"]}
INT_OR_NULL = {"type": ["integer", "null"]}
STRINGS = {"type": "array", "items": STR}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


def obj(properties: dict, *, optional: tuple[str, ...] = ()) -> dict:
    """An object with these keys, all present but the `optional` ones."""
    return {"type": "object", "properties": properties,
            "required": [name for name in properties if name not in optional]}


def page_of(item: dict) -> dict:
    """The paging envelope every paginated list answers with."""
    return obj({"items": array(item), "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1, "maximum": 500},
                "total": {"type": "integer", "minimum": 0}})


def cursor_page_of(item: dict) -> dict:
    """The paging envelope with keyset cursors (null: no page that way)."""
    shape = page_of(item)
    shape["properties"].update(next_cursor=STR_OR_NULL, prev_cursor=STR_OR_NULL)
    shape["required"] += ["next_cursor", "prev_cursor"]
    return shape


def items_of(item: dict) -> dict:
    """A short list that is not paginated: {"items": [...]}."""
    return obj({"items": array(item)})


ESCALATION_STEP = obj({
    "level": STR, "round": INT, "paged_at": TIME_OR_NULL, "deadline": TIME_OR_NULL, "breached_at": TIME_OR_NULL,
    "acknowledged_at": TIME_OR_NULL, "ended_at": TIME_OR_NULL, "skipped": STR_OR_NULL,
    "recipients": STRINGS, "channels": STRINGS})
MEMBER = obj({"user": STR, "name": STR, "how": {"type": "string", "enum": ["declared", "role", "paged", "added"]},
              "added_at": TIME})
ROLE_TERM = obj({"role": STR, "user": STR, "from": TIME, "to": TIME_OR_NULL, "assigned_by": STR_OR_NULL,
                 "relieved_by": STR_OR_NULL})
ROLES = {"current": {"type": "object", "additionalProperties": {"type": ["string", "array"], "items": STR}},
         "missing": STRINGS, "history": array(ROLE_TERM)}
LEVEL = obj({"name": STR, "targets": array({"type": "object"}), "ack_timeout_seconds": INT, "channels": STRINGS,
             "business_hours": {"type": "object"}}, optional=("business_hours",))

SCHEMAS: dict[str, dict] = {
    "Incident": obj({
        "id": INT, "reference": STR, "title": STR, "severity": {"type": "string", "enum": list(SEVERITIES)},
        "status": {"type": "string", "enum": list(STATUSES)}, "summary": STR, "services": STRINGS,
        "mode": {"type": "string", "enum": list(MODES)}, "declared_at": TIME, "declared_by": STR_OR_NULL,
        "updated_at": TIME_OR_NULL, "acknowledged_at": TIME_OR_NULL, "resolved_at": TIME_OR_NULL,
        "roles": ROLES["current"], "linked_tickets": INT,
        "escalation": obj({"level": STR_OR_NULL, "policy": STR_OR_NULL, "next_deadline_at": TIME_OR_NULL,
                           "state": STR_OR_NULL}, optional=("state",)),
        "solve_tickets_on_resolve": BOOL, "merged_into": INT_OR_NULL, "private": BOOL}),
    "StatusUpdate": obj({"id": INT, "status": STR_OR_NULL, "message": STR, "public": BOOL,
                         "notify_subscribers": BOOL, "created_at": TIME,
                         "author": STR_OR_NULL}),
    "TimelineEvent": obj({"id": INT, "at": TIME, "kind": STR, "actor": STR_OR_NULL, "data": {"type": "object"}}),
    "Roles": obj(ROLES),
    "Checklist": obj({"role": STR, "label": STR, "runbooks": array(obj({
        "slug": STR, "title": STR, "summary": STR, "intro_html": STR, "done": INT, "total": INT,
        "sections": array(obj({"title": STR, "items": array(obj({
            "key": STR, "text": STR, "checked": BOOL, "by": STR_OR_NULL}))}))}))}),
    "Ticket": obj({
        "id": INT, "external_id": STR, "source": STR, "subject": STR, "description": STR,
        "requester": obj({"name": STR, "email": STR_OR_NULL, "phone": STR_OR_NULL}),
        "customer_id": INT_OR_NULL, "tags": STRINGS, "services": STRINGS, "priority": STR_OR_NULL, "status": STR,
        "created_at": TIME_OR_NULL, "received_at": TIME_OR_NULL, "incident_id": INT_OR_NULL,
        "linked_at": TIME_OR_NULL, "link_method": STR_OR_NULL, "solved_at": TIME_OR_NULL}),
    "LinkRule": obj({"id": INT, "tags": STRINGS, "text": STR, "services": STRINGS, "active": BOOL, "linked": INT,
                     "created_at": TIME}),
    "Broadcast": obj({
        "id": INT, "incident_id": INT, "kind": STR, "status": STR, "channels": STRINGS, "audience": {"type": "object"},
        "message": STR, "important": BOOL, "include_workaround": BOOL, "send_at": TIME_OR_NULL,
        "repeat_every_minutes": INT_OR_NULL,
        "next_update_minutes": INT_OR_NULL, "next_send_at": TIME_OR_NULL,
        "counts": {"type": "object", "additionalProperties": INT}, "created_at": TIME}),
    "Delivery": obj({"id": INT, "customer_id": INT_OR_NULL, "customer": STR_OR_NULL, "send": INT, "channel": STR,
                     "recipient": STR_OR_NULL, "status": STR, "reason": STR_OR_NULL, "attempts": INT,
                     "sent_at": TIME_OR_NULL, "updated_at": TIME_OR_NULL}),
    "EscalationPolicy": obj({
        "name": STR, "levels": array(LEVEL), "repeat": INT,
        "applies_to": obj({"severities": STRINGS, "services": STRINGS}),
        "updated_at": TIME_OR_NULL, "updated_by": STR_OR_NULL}),
    "Rotation": obj({
        "name": STR, "users": STRINGS, "shift_hours": {"type": "number"}, "starts_at": TIME, "timezone": STR_OR_NULL,
        "overrides": array(obj({"user": STR, "starts_at": TIME, "ends_at": TIME})),
        "on_call": obj({"at": TIME, "user": STR_OR_NULL})}),
    "Escalation": obj({"level": STR_OR_NULL, "policy": STR_OR_NULL, "next_deadline_at": TIME_OR_NULL,
                       "state": STR_OR_NULL, "round": INT, "mode": STR, "steps": array(ESCALATION_STEP)},
                      optional=("mode",)),
    "Simulation": obj({"policy": STR, "start": TIME, "mode": STR, "steps": array(obj({
        "at": TIME, "level": STR, "round": INT, "deadline": TIME_OR_NULL, "skipped": STR_OR_NULL,
        "channels": STRINGS, "recipients": array(obj({"kind": STR, "value": STR, "via": STR_OR_NULL}))}))}),
    "Customer": obj({
        "id": INT, "external_id": STR_OR_NULL, "name": STR, "email": STR_OR_NULL, "phone": STR_OR_NULL,
        "slack_channel": STR_OR_NULL, "locale": STR, "segment": STR_OR_NULL, "channels": STRINGS,
        "opted_out": STRINGS, "services": STRINGS, "created_at": TIME, "updated_at": TIME_OR_NULL}),
    "Component": obj({
        "id": INT, "name": STR, "description": STR, "position": INT, "is_group": BOOL, "group_id": INT_OR_NULL,
        "group": STR_OR_NULL, "service": STR_OR_NULL, "only_show_if_degraded": BOOL, "status": STR_OR_NULL,
        "created_at": TIME, "updated_at": TIME_OR_NULL}),
    "StatusImpact": obj({"incident_id": INT, "published": BOOL, "impact": STR, "impact_overridden": BOOL,
                         "components": array(obj({"id": INT, "name": STR, "overridden": BOOL, "status": STR}))}),
    "Maintenance": obj({
        "id": INT, "name": STR, "message": STR, "status": STR, "scheduled_for": TIME, "scheduled_until": TIME,
        "components": array(INT), "notify_minutes_before": INT, "notice_queued_at": TIME_OR_NULL,
        "started_at": TIME_OR_NULL, "completed_at": TIME_OR_NULL, "created_at": TIME}),
    "ActionItem": obj({
        "id": INT, "incident_id": INT, "reference": STR, "title": STR, "owner": STR,
        "due_on": {"type": "string", "format": "date"}, "state": {"type": "string", "enum": ["open", "done", "dropped"]},
        "url": STR_OR_NULL, "overdue": BOOL, "created_at": TIME, "created_by": STR_OR_NULL, "updated_at": TIME,
        "closed_at": TIME_OR_NULL}),
    "Review": obj({
        "incident_id": INT, "reference": STR, "title": STR,
        "status": {"type": "string", "enum": ["draft", "in_review", "published"]}, "version": INT,
        "opened_at": TIME, "updated_at": TIME, "updated_by": STR_OR_NULL, "published_at": TIME_OR_NULL,
        "editable": BOOL, "next_statuses": STRINGS, "record_frozen": BOOL, "record_built_at": TIME,
        "incident": obj({"reference": STR, "title": STR, "severity": STR, "services": STRINGS, "mode": STR,
                         "summary": STR}),
        "key_times": obj({key: TIME_OR_NULL for key in ("declared_at", "first_paged_at", "acknowledged_at",
                                                        "first_public_update_at", "mitigated_at", "resolved_at")}),
        "sections": obj({key: STR for key in ("summary", "impact", "root_cause", "went_well", "to_improve")}),
        "action_items": array(ref("ActionItem")), "acknowledged_by": STR_OR_NULL, "reopened": INT,
        "merged": array(obj({"id": INT, "reference": STR, "title": STR, "severity": STR, "declared_at": TIME})),
        "roles": array(ROLE_TERM),
        "updates": array(obj({"at": TIME, "status": STR_OR_NULL, "message": STR, "public": BOOL,
                              "author": STR_OR_NULL})),
        "escalation": obj({"policy": STR_OR_NULL, "breaches": INT, "steps": array(obj({
            "level": STR, "round": INT, "paged_at": TIME_OR_NULL, "deadline": TIME_OR_NULL,
            "breached_at": TIME_OR_NULL, "acknowledged_at": TIME_OR_NULL, "skipped": STR_OR_NULL,
            "recipients": STRINGS, "channels": STRINGS}))}),
        "broadcasts": array(obj({"id": INT, "kind": STR, "channels": STRINGS, "status": STR, "send_at": TIME_OR_NULL,
                                 "repeat_every_minutes": INT_OR_NULL, "sends": INT,
                                 "counts": {"type": "object", "additionalProperties": INT}})),
        "tickets": obj({"linked": INT, "bucket_minutes": INT, "buckets": array(array({"type": ["string", "integer"]})),
                        "top_tags": array(array({"type": ["string", "integer"]})),
                        "markers": array(array(STR))})}),
    "LinkResult": obj({"linked": INT, "already_linked": INT, "moved": INT, "not_found": STRINGS}),
    "KnownIssue": obj({
        "incident_id": INT, "reference": STR, "title": STR, "severity": {"type": "string", "enum": list(SEVERITIES)},
        "incident_status": {"type": "string", "enum": list(STATUSES)},
        "state": {"type": "string", "enum": ["current", "known"]}, "resolved_at": TIME_OR_NULL,
        "merged_into": INT_OR_NULL, "workaround": STR, "symptoms": STR, "cause": STR, "fix": STR, "tags": STRINGS,
        "services": STRINGS, "match_phrases": STRINGS, "flag_tickets": BOOL, "flags_tickets_now": BOOL,
        "matched_tickets": INT, "created_at": TIME, "updated_at": TIME, "updated_by": STR_OR_NULL}),
    "UnlinkResult": obj({"unlinked": INT, "not_found": STRINGS}),
}

_SLUG = {"type": "string", "pattern": SLUG_RE.pattern}
_TEXT = {"type": "string", "minLength": 1, "pattern": r"\S"}
_TIME_OF_DAY = {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$"}

# PUT /escalation-policies/<name> is checked by escalation.policy (it reports every problem at
# once), not by a pydantic model: this is that check written as a schema.
ESCALATION_POLICY_IN = {
    "title": "EscalationPolicyIn", "type": "object", "additionalProperties": False, "required": ["levels"],
    "properties": {
        "name": {**_TEXT, "description": "if given, the name in the path"},
        "repeat": {"type": "integer", "minimum": 0, "maximum": MAX_REPEAT, "default": 0},
        "applies_to": {"type": "object", "additionalProperties": False, "properties": {
            "severities": {"type": "array", "items": {"type": "string", "enum": list(SEVERITIES)}, "maxItems": 10},
            "services": {"type": "array", "items": _SLUG, "maxItems": 50}}},
        "levels": {"type": "array", "minItems": 1, "maxItems": 50, "items": {
            "type": "object", "additionalProperties": False, "required": ["name", "targets", "ack_timeout_seconds"],
            "properties": {
                "name": {**_TEXT, "maxLength": 100},
                "targets": {"type": "array", "minItems": 1, "maxItems": 100, "items": {"oneOf": [
                    {"type": "object", "additionalProperties": False, "required": [kind],
                     "properties": {kind: {"type": "string", "format": "email", "maxLength": 254} if kind == "user"
                                    else {**_TEXT, "maxLength": 100}}}
                    for kind in TARGET_KINDS]}},
                "ack_timeout_seconds": {"type": "integer", "minimum": MIN_TIMEOUT, "maximum": MAX_TIMEOUT},
                "channels": {"type": "array", "minItems": 1, "uniqueItems": True,
                             "items": {"type": "string", "enum": list(CHANNELS)}},
                "business_hours": {"type": ["object", "null"], "additionalProperties": False, "properties": {
                    "timezone": {"type": "string", "minLength": 1, "maxLength": 64,
                                 "description": "an IANA name such as Europe/Rome"},
                    "days": {"type": "array", "minItems": 1, "maxItems": 7,
                             "items": {"type": "integer", "minimum": 0, "maximum": 6}},
                    "start": _TIME_OF_DAY, "end": _TIME_OF_DAY}}}}}}}


NUMBER_OR_NULL = {"type": ["number", "null"]}
FIGURE = obj({"median": NUMBER_OR_NULL, "p90": NUMBER_OR_NULL, "count": INT})   # seconds; count: incidents with one
COUNTS = {"type": "object", "additionalProperties": INT}
DURATIONS = {name: FIGURE for name in ("mtta_seconds", "mttr_seconds", "first_public_update_seconds",
                                       "first_customer_message_seconds")}
REPORT_SUMMARY = obj({
    "period": obj({"since": TIME, "until": TIME}),
    "filters": obj({"severity": STRINGS, "service": STR_OR_NULL, "tag": STR_OR_NULL}),
    "incidents": INT, "acknowledged": INT, "resolved": INT, "reopened": INT, **DURATIONS,
    "sla_breaches": COUNTS, "sla_breaches_by_policy": {"type": "object", "additionalProperties": COUNTS},
    "escalations": COUNTS, "escalated_incidents": INT, "swarms": INT,
    "tickets": obj({"linked": INT, "per_incident": obj({"median": NUMBER_OR_NULL, "p90": NUMBER_OR_NULL})}),
    "top_tags": array(obj({"tag": STR, "tickets": INT, "share": {"type": "number"}})),
    "top_services": array(obj({"service": STR, "incidents": INT, "tickets": INT, "share": {"type": "number"}})),
    "repeat_services": array(obj({"service": STR, "incidents": INT})),
    "weekly": array(obj({"week": STR, "starts_on": {"type": "string", "format": "date"}, "incidents": INT,
                         **DURATIONS})),
    "broadcasts": {"type": "object", "additionalProperties": obj(
        {"sent": INT, "delivered": INT, "failed": INT, "fell_back": INT})},
    "overdue_action_items": INT})

HELPDESK = obj({"problem_ticket_id": STR_OR_NULL, "linked": INT, "synced": INT, "pending": INT, "failed_count": INT,
               "failed": array(obj({"external_id": STR, "reason": STR_OR_NULL})), "jobs_running": INT})


OBJECT_OR_NULL = {"type": ["object", "null"]}
AUDIT_ENTRY = obj({"id": INT, "at": TIME, "actor": STR, "kind": STR, "action": STR, "target": STR,
                   "before": OBJECT_OR_NULL, "after": OBJECT_OR_NULL,
                   "changes": {"type": "object", "description": "{field: [before, after]}"}})
WEBHOOK = obj({"id": INT, "url": STR, "events": STRINGS, "description": STR, "created_at": TIME, "created_by": STR})
WEBHOOK_MESSAGE = obj({
    "id": INT, "event_id": STR, "event_type": STR, "created_at": TIME, "status": STR, "attempts": INT,
    "next_attempt_at": TIME_OR_NULL, "sent_at": TIME_OR_NULL, "error": STR_OR_NULL,
    "attempt_log": array(obj({"at": TIME, "ok": BOOL, "status_code": INT_OR_NULL, "duration_ms": INT,
                              "error": STR_OR_NULL}))})


def responses() -> dict[tuple[str, str], tuple[str, dict]]:
    """(method, path) -> (media type, schema) of each operation's success answer."""
    j = "application/json"
    incident, ticket, customer = ref("Incident"), ref("Ticket"), ref("Customer")
    roles = ROLES
    return {
        ("post", "/incidents"): (j, incident),
        ("get", "/incidents"): (j, page_of(incident)),
        ("get", "/incidents/{incident_id}"): (j, incident),
        ("patch", "/incidents/{incident_id}"): (j, incident),
        ("post", "/incidents/{incident_id}/updates"): (j, obj({"update": ref("StatusUpdate"), "incident": incident})),
        ("get", "/incidents/{incident_id}/updates"): (j, items_of(ref("StatusUpdate"))),
        ("post", "/incidents/{incident_id}/notes"): (j, ref("TimelineEvent")),
        ("get", "/incidents/{incident_id}/timeline"): (j, page_of(ref("TimelineEvent"))),
        ("get", "/incidents/{incident_id}/roles"): (j, ref("Roles")),
        ("get", "/incidents/{incident_id}/helpdesk"): (j, HELPDESK),
        ("post", "/incidents/{incident_id}/helpdesk/retry"): (j, obj({"jobs": INT, **HELPDESK["properties"]})),
        ("put", "/incidents/{incident_id}/roles/{role}"): (j, obj({"changed": BOOL, **roles})),
        ("delete", "/incidents/{incident_id}/roles/{role}"): (j, obj({"relieved": INT, **roles})),
        ("get", "/incidents/{incident_id}/checklists"): (j, items_of(ref("Checklist"))),
        ("post", "/incidents/{incident_id}/checklists"): (j, obj({"changed": BOOL, "runbook": STR, "item": STR,
                                                                  "checked": BOOL})),
        ("post", "/tickets"): (j, obj({"created": INT, "updated": INT, "unchanged": INT, "linked": INT,
                                       "known_issue_matches": array(obj({"external_id": STR, "source": STR,
                                                                         "incident_id": INT}))})),
        ("get", "/tickets"): (j, cursor_page_of(ticket)),
        ("get", "/incidents/{incident_id}/tickets"): (j, cursor_page_of(ticket)),
        ("post", "/incidents/{incident_id}/tickets"): (j, ref("LinkResult")),
        ("delete", "/incidents/{incident_id}/tickets/{external_id}"): (j, ref("UnlinkResult")),
        ("post", "/incidents/{incident_id}/tickets/unlink"): (j, ref("UnlinkResult")),
        ("get", "/incidents/{incident_id}/tickets.csv"): ("text/csv", {"type": "string"}),
        ("post", "/incidents/{incident_id}/link-rules"): (j, {"allOf": [ref("LinkRule"), obj({"linked_now": INT})]}),
        ("get", "/incidents/{incident_id}/link-rules"): (j, items_of(ref("LinkRule"))),
        ("delete", "/incidents/{incident_id}/link-rules/{rule_id}"): (j, obj({"id": INT, "active": BOOL})),
        ("post", "/incidents/{incident_id}/merge"): (j, obj({"merged_into": INT, "reference": STR})),
        ("get", "/incidents/{incident_id}/members"): (j, items_of(MEMBER)),
        ("post", "/incidents/{incident_id}/members"): (j, {**items_of(MEMBER), "properties": {
            **items_of(MEMBER)["properties"], "added": BOOL}, "required": ["items", "added"]}),
        ("delete", "/incidents/{incident_id}/members/{email}"): (j, {**items_of(MEMBER), "properties": {
            **items_of(MEMBER)["properties"], "removed": STR}, "required": ["items", "removed"]}),
        ("post", "/incidents/{incident_id}/broadcasts"): (j, ref("Broadcast")),
        ("get", "/incidents/{incident_id}/broadcasts"): (j, array(ref("Broadcast"))),
        ("post", "/incidents/{incident_id}/broadcasts/preview"): (j, obj({
            "audience": INT, "messages": {"type": "object", "description": "{channel: {locale: message}}"}})),
        ("get", "/broadcasts/{broadcast_id}"): (j, ref("Broadcast")),
        ("patch", "/broadcasts/{broadcast_id}"): (j, ref("Broadcast")),
        ("delete", "/broadcasts/{broadcast_id}"): (j, obj({"id": INT, "cancelled_sends": INT,
                                                           "cancelled_messages": INT})),
        ("get", "/broadcasts/{broadcast_id}/deliveries"): (j, page_of(ref("Delivery"))),
        ("put", "/escalation-policies/{name}"): (j, ref("EscalationPolicy")),
        ("get", "/escalation-policies/{name}"): (j, ref("EscalationPolicy")),
        ("get", "/escalation-policies"): (j, items_of(ref("EscalationPolicy"))),
        ("post", "/escalation-policies/simulate"): (j, ref("Simulation")),
        ("put", "/rotations/{name}"): (j, ref("Rotation")),
        ("get", "/rotations/{name}"): (j, ref("Rotation")),
        ("get", "/rotations"): (j, items_of(ref("Rotation"))),
        ("post", "/rotations/{name}/overrides"): (j, ref("Rotation")),
        ("post", "/incidents/{incident_id}/escalate"): (j, ref("Escalation")),
        ("post", "/incidents/{incident_id}/acknowledge"): (j, obj({
            "outcome": STR, "acknowledged_at": TIME_OR_NULL, "escalation": ref("Escalation")})),
        ("get", "/incidents/{incident_id}/escalation"): (j, {"allOf": [ref("Escalation"), obj({
            "acknowledgements": array(obj({"who": STR, "via": STR, "at": TIME, "outcome": STR, "detail": STR}))})]}),
        ("post", "/customers"): (j, obj({"created": INT, "updated": INT, "unchanged": INT, "ids": array(INT_OR_NULL)})),
        ("get", "/customers"): (j, page_of(customer)),
        ("get", "/customers/{customer_id}"): (j, customer),
        ("patch", "/customers/{customer_id}"): (j, customer),
        ("get", "/status/components"): (j, items_of(ref("Component"))),
        ("post", "/status/components"): (j, ref("Component")),
        ("patch", "/status/components/{component_id}"): (j, ref("Component")),
        ("delete", "/status/components/{component_id}"): (j, obj({"deleted": BOOL})),
        ("get", "/incidents/{incident_id}/status-impact"): (j, ref("StatusImpact")),
        ("put", "/incidents/{incident_id}/status-impact"): (j, ref("StatusImpact")),
        ("get", "/status/maintenances"): (j, items_of(ref("Maintenance"))),
        ("post", "/status/maintenances"): (j, ref("Maintenance")),
        ("get", "/status/maintenances/{maintenance_id}"): (j, ref("Maintenance")),
        ("delete", "/status/maintenances/{maintenance_id}"): (j, ref("Maintenance")),
        ("get", "/incidents/{incident_id}/review"): (j, ref("Review")),
        ("post", "/incidents/{incident_id}/review"): (j, ref("Review")),
        ("patch", "/incidents/{incident_id}/review"): (j, ref("Review")),
        ("get", "/incidents/{incident_id}/review.md"): ("text/markdown", {"type": "string"}),
        ("post", "/incidents/{incident_id}/action-items"): (j, ref("ActionItem")),
        ("patch", "/action-items/{item_id}"): (j, ref("ActionItem")),
        ("get", "/action-items"): (j, page_of(ref("ActionItem"))),
        ("put", "/incidents/{incident_id}/known-issue"): (j, ref("KnownIssue")),
        ("get", "/incidents/{incident_id}/known-issue"): (j, ref("KnownIssue")),
        ("delete", "/incidents/{incident_id}/known-issue"): (j, obj({"deleted": BOOL})),
        ("get", "/known-issues"): (j, page_of(ref("KnownIssue"))),
        ("get", "/reports/summary"): (j, REPORT_SUMMARY),
        ("get", "/reports/incidents.csv"): ("text/csv", {"type": "string"}),
        ("get", "/audit"): (j, page_of(AUDIT_ENTRY)),
        ("get", "/audit.csv"): ("text/csv", {"type": "string"}),
        ("post", "/webhooks"): (j, {"allOf": [WEBHOOK, obj({"secret": STR})]}),
        ("get", "/webhooks"): (j, items_of(WEBHOOK)),
        ("get", "/webhooks/{endpoint_id}"): (j, WEBHOOK),
        ("delete", "/webhooks/{endpoint_id}"): (j, obj({"deleted": BOOL, "cancelled": INT})),
        ("get", "/webhooks/{endpoint_id}/deliveries"): (j, page_of(WEBHOOK_MESSAGE)),
        ("post", "/webhooks/{endpoint_id}/test"): (j, WEBHOOK_MESSAGE),
    }
