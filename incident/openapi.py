"""The OpenAPI 3 document of /api/v1, served at /api/openapi.json.

Request bodies come from the same pydantic schemas the routes validate with, so the
document cannot drift from what the API accepts. A test checks every /api/v1 route is here.
"""
from __future__ import annotations

from flask import Blueprint, jsonify
from pydantic.json_schema import GenerateJsonSchema

from .api import MAX_PAGE, MAX_PER_PAGE
from .audit.policy import KINDS as AUDIT_KINDS
from .audit.policy import MAX_ACTOR
from .broadcast.schemas import BroadcastEdit, BroadcastIn
from .customers.schemas import MAX_BATCH as CUSTOMER_BATCH
from .customers.schemas import CustomerIn, CustomerPatch
from .escalation.schemas import EscalateIn, OverrideIn, RotationIn, SimulateIn
from .incidents.policy import SEVERITIES
from .incidents.schemas import DeclareIncident, EditIncident, MemberIn, Note, PostUpdate
from .known_issues.schemas import KnownIssueIn
from .known_issues.service import MAX_QUERY, STATES
from .openapi_shapes import ESCALATION_POLICY_IN, SCHEMAS, responses
from .outbox.models import STATUSES as DELIVERY_STATUSES
from .reviews.policy import STATES as ITEM_STATES
from .reviews.schemas import ActionItemIn, ActionItemPatch, ReviewPatch
from .roles.policy import ROLES
from .roles.schemas import AssignRole, TickItem
from .status.schemas import ComponentEdit, ComponentIn, ImpactIn, MaintenanceIn
from .tickets.policy import TAG_RE
from .tickets.schemas import MAX_BATCH as TICKET_BATCH
from .tickets.schemas import LinkIn, LinkRuleIn, MergeIn, TicketIn, UnlinkIn
from .validation import MAX_KEY, SLUG_RE
from .webhooks.schemas import WebhookIn

bp = Blueprint("openapi", __name__)


def _key(name: str) -> dict:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_KEY}}


ID = _key("incident_id")
ROLE = {"name": "role", "in": "path", "required": True, "schema": {"type": "string", "enum": list(ROLES)}}
COMPONENT = _key("component_id")
MAINTENANCE = _key("maintenance_id")
NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": SLUG_RE.pattern}}
BROADCAST = _key("broadcast_id")
CUSTOMER = _key("customer_id")
ITEM = _key("item_id")
WEBHOOK = _key("endpoint_id")
PAGE = [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}},
        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}}]
_SLUG = {"type": "string", "pattern": SLUG_RE.pattern}


def _query(name: str, schema: dict, description: str = "") -> dict:
    param: dict[str, object] = {"name": name, "in": "query", "schema": schema, "description": description}
    if schema.get("type") == "array":
        param.update(style="form", explode=True)
    return param


CURSOR = [_query("cursor", {"type": "string", "maxLength": 200},
                 "keyset paging: a next_cursor or prev_cursor from an earlier answer (then page is ignored)")]
TICKET_FILTER = [
    _query("tag", {"type": "array", "items": {"type": "string", "pattern": TAG_RE.pattern}, "maxItems": 20},
           "repeatable; every tag must be present"),
    _query("service", {"type": "array", "items": _SLUG, "maxItems": 20}, "repeatable; any of them"),
    _query("q", {"type": "string", "maxLength": 200}, "text in subject or description"),
    _query("since", {"type": "string", "format": "date-time"}, "ISO 8601 with an offset, between 1970 and 2999"),
    _query("until", {"type": "string", "format": "date-time"}, "the same; not before since"),
    _query("source", _SLUG, "helpdesk"),
    _query("unlinked", {"type": "string", "enum": ["true", "false"]}, "true: only tickets on no incident")]
_EMAIL = {"type": "string", "format": "email", "maxLength": 254}
_PERIOD_END = {"type": "string", "maxLength": 40}
REPORT_FILTER = [
    _query("since", _PERIOD_END, "incidents declared from: a date (its start, UTC) or ISO 8601 with an offset; "
                                 "default until − 90 days"),
    _query("until", _PERIOD_END, "… up to (excluded): a date (its end, UTC) or ISO 8601 with an offset; default now; "
                                 "after since, at most 731 days later"),
    _query("severity", {"type": "array", "items": {"type": "string", "enum": list(SEVERITIES)}, "maxItems": 4},
           "repeatable or comma-separated; any of them"),
    _query("service", _SLUG, "incidents affecting this service (one that exists)"),
    _query("tag", {"type": "string", "pattern": TAG_RE.pattern}, "incidents with a linked ticket carrying this tag")]

AUDIT_FILTER = [
    _query("since", _PERIOD_END, "changes from: a date (its start, UTC) or ISO 8601 with an offset"),
    _query("until", _PERIOD_END, "… up to (excluded): a date (its end, UTC) or ISO 8601 with an offset; after since"),
    _query("actor", {"type": "string", "maxLength": MAX_ACTOR}, "who: a staff email, cli or system"),
    _query("kind", {"type": "array", "items": {"type": "string", "enum": list(AUDIT_KINDS)}, "maxItems": len(AUDIT_KINDS)},
           "repeatable or comma-separated; any of them")]

# (method, path, summary, permission, request schema, parameters, success status)
OPERATIONS = [
    ("post", "/incidents", "Declare an incident", "lead", DeclareIncident, [], "201"),
    (
        "get",
        "/incidents",
        "List incidents",
        "viewer",
        None,
        [{"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "resolved", "all"]}}, *PAGE],
        "200",
    ),
    ("get", "/incidents/{incident_id}", "Get an incident", "viewer", None, [ID], "200"),
    ("patch", "/incidents/{incident_id}", "Edit title, severity, summary or services", "lead", EditIncident, [ID], "200"),
    ("post", "/incidents/{incident_id}/updates", "Post a status update (moves the status)", "lead", PostUpdate, [ID], "201"),
    ("get", "/incidents/{incident_id}/updates", "List status updates, newest first", "viewer", None, [ID], "200"),
    ("post", "/incidents/{incident_id}/notes", "Add a note to the timeline", "agent", Note, [ID], "201"),
    ("get", "/incidents/{incident_id}/timeline", "The timeline, oldest first", "viewer", None, [ID, *PAGE], "200"),
    ("get", "/incidents/{incident_id}/roles", "Current role holders, gaps and every term", "viewer", None, [ID], "200"),
    ("get", "/incidents/{incident_id}/helpdesk", "How the helpdesk follows: its parent ticket, tickets synced, "
     "pending and refused (with the helpdesk's reason), jobs running", "viewer", None, [ID], "200"),
    ("post", "/incidents/{incident_id}/helpdesk/retry", "Queue again every ticket the helpdesk refused", "lead", None,
     [ID], "200"),
    (
        "put",
        "/incidents/{incident_id}/roles/{role}",
        "Assign or hand over a crisis role",
        "lead",
        AssignRole,
        [ID, ROLE],
        "200",
    ),
    (
        "delete",
        "/incidents/{incident_id}/roles/{role}",
        "Relieve a role's holder(s)",
        "lead",
        None,
        [ID, ROLE, _query("user", _EMAIL, "only this holder")],
        "200",
    ),
    (
        "get",
        "/incidents/{incident_id}/checklists",
        "Runbook checklists per role",
        "viewer",
        None,
        [ID, _query("role", {"type": "array", "items": ROLE["schema"]}, "repeatable; default every role")],
        "200",
    ),
    (
        "post",
        "/incidents/{incident_id}/checklists",
        "Tick or untick a checklist item",
        "role holder or lead",
        TickItem,
        [ID],
        "200",
    ),
    (
        "post",
        "/tickets",
        'Ingest one ticket, or {"tickets": [...]} with up to 10,000 (upsert on source + external_id)',
        "agent",
        TicketIn,
        [],
        "200",
    ),
    (
        "get",
        "/tickets",
        "List tickets, newest first",
        "viewer",
        None,
        [*TICKET_FILTER, *PAGE, *CURSOR, _query("incident_id", ID["schema"], "only tickets linked to it")],
        "200",
    ),
    (
        "get",
        "/incidents/{incident_id}/tickets",
        "The incident's linked tickets",
        "viewer",
        None,
        [ID, *TICKET_FILTER, *PAGE, *CURSOR],
        "200",
    ),
    ("post", "/incidents/{incident_id}/tickets", "Bulk link by external ids or by filter", "agent", LinkIn, [ID], "200"),
    (
        "delete",
        "/incidents/{incident_id}/tickets/{external_id}",
        "Unlink one ticket",
        "agent",
        None,
        [
            ID,
            {
                "name": "external_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 100},
            },
            _query("source", _SLUG, "the ticket's helpdesk, when ids repeat across them"),
        ],
        "200",
    ),
    (
        "post",
        "/incidents/{incident_id}/tickets/unlink",
        "Unlink many: by ids, filter or all",
        "agent",
        UnlinkIn,
        [ID],
        "200",
    ),
    ("get", "/incidents/{incident_id}/tickets.csv", "Export the linked tickets as CSV", "viewer", None, [ID], "200"),
    (
        "post",
        "/incidents/{incident_id}/link-rules",
        "Add a rule that links matching new tickets",
        "agent",
        LinkRuleIn,
        [ID],
        "201",
    ),
    ("get", "/incidents/{incident_id}/link-rules", "List link rules", "viewer", None, [ID], "200"),
    (
        "delete",
        "/incidents/{incident_id}/link-rules/{rule_id}",
        "Stop a link rule",
        "agent",
        None,
        [ID, {"name": "rule_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "200",
    ),
    ("post", "/incidents/{incident_id}/merge", "Merge this duplicate into another incident", "lead", MergeIn, [ID], "200"),
    (
        "post",
        "/incidents/{incident_id}/broadcasts",
        "Schedule a broadcast to customers (now, at send_at, or on a cadence)",
        "lead",
        BroadcastIn,
        [ID],
        "201",
    ),
    (
        "get",
        "/incidents/{incident_id}/broadcasts",
        "The incident's broadcasts with their delivery counts",
        "viewer",
        None,
        [ID],
        "200",
    ),
    (
        "post",
        "/incidents/{incident_id}/broadcasts/preview",
        "Each channel's message in each locale; saves nothing",
        "agent",
        BroadcastIn,
        [ID],
        "200",
    ),
    ("get", "/broadcasts/{broadcast_id}", "A broadcast with its delivery counts", "viewer", None, [BROADCAST], "200"),
    ("patch", "/broadcasts/{broadcast_id}", "Edit what has not gone out yet", "lead", BroadcastEdit, [BROADCAST], "200"),
    ("delete", "/broadcasts/{broadcast_id}", "Cancel what has not gone out", "lead", None, [BROADCAST], "200"),
    (
        "get",
        "/broadcasts/{broadcast_id}/deliveries",
        "Each customer's delivery: channel, status, reason",
        "viewer",
        None,
        [BROADCAST, _query("status", {"type": "string", "enum": list(DELIVERY_STATUSES)}), *PAGE],
        "200",
    ),
    (
        "put",
        "/escalation-policies/{name}",
        "Create or replace an escalation policy (levels, repeat, applies_to)",
        "admin",
        ESCALATION_POLICY_IN,
        [NAME],
        "200",
    ),
    ("get", "/escalation-policies/{name}", "An escalation policy", "viewer", None, [NAME], "200"),
    ("get", "/escalation-policies", "Every escalation policy", "viewer", None, [], "200"),
    (
        "post",
        "/escalation-policies/simulate",
        "Who is paged, when and on what, if nobody acknowledges",
        "viewer",
        SimulateIn,
        [],
        "200",
    ),
    ("put", "/rotations/{name}", "Create or replace an on-call rotation", "admin", RotationIn, [NAME], "200"),
    (
        "get",
        "/rotations/{name}",
        "A rotation and who is on call now (or ?at=)",
        "viewer",
        None,
        [
            NAME,
            _query(
                "at",
                {"type": "string", "format": "date-time"},
                "ISO 8601 with an offset, between 1970 and 2999; default now",
            ),
        ],
        "200",
    ),
    ("get", "/rotations", "Every rotation", "viewer", None, [], "200"),
    ("post", "/rotations/{name}/overrides", "Someone covers the rotation for a while", "lead", OverrideIn, [NAME], "201"),
    (
        "post",
        "/incidents/{incident_id}/escalate",
        "Escalate to the next level or a named one",
        "engineer",
        EscalateIn,
        [ID],
        "200",
    ),
    ("post", "/incidents/{incident_id}/acknowledge", "Acknowledge as the calling user", "engineer", None, [ID], "200"),
    (
        "get",
        "/incidents/{incident_id}/escalation",
        "The escalation: level, clocks, breaches, acknowledgements",
        "viewer",
        None,
        [ID],
        "200",
    ),
    (
        "post",
        "/customers",
        'Create or update one customer, or {"customers": [...]} with up to 10,000 (upsert on '
        "external_id, else email; fields left out keep their value)",
        "agent",
        CustomerIn,
        [],
        "200",
    ),
    (
        "get",
        "/customers",
        "List customers by id",
        "viewer",
        None,
        [
            _query("segment", {"type": "string", "maxLength": 40}, "exact segment"),
            _query("service", {"type": "string", "maxLength": 63}, "subscribed to this service"),
            _query("email", _EMAIL, "exact email"),
            *PAGE,
        ],
        "200",
    ),
    ("get", "/customers/{customer_id}", "Get a customer", "viewer", None, [CUSTOMER], "200"),
    (
        "patch",
        "/customers/{customer_id}",
        "Edit details, channel preferences, services or opt-outs (adding an opt-out: agent; lifting an "
        "email or Slack one: lead; an SMS one: only the customer, by START)",
        "agent",
        CustomerPatch,
        [CUSTOMER],
        "200",
    ),
    # The status page (staff side; the public side is /status and /api/v2, Statuspage-compatible).
    ("get", "/status/components", "Status page components, in page order, with their state", "viewer", None, [], "200"),
    ("post", "/status/components", "Add a component (or a group, named by `group`)", "lead", ComponentIn, [], "201"),
    ("patch", "/status/components/{component_id}", "Edit a component", "lead", ComponentEdit, [COMPONENT], "200"),
    ("delete", "/status/components/{component_id}", "Remove a component from the page", "lead", None, [COMPONENT], "200"),
    (
        "get",
        "/incidents/{incident_id}/status-impact",
        "How the incident reads on the status page",
        "viewer",
        None,
        [ID],
        "200",
    ),
    (
        "put",
        "/incidents/{incident_id}/status-impact",
        "Override the incident's impact and component states",
        "lead",
        ImpactIn,
        [ID],
        "200",
    ),
    ("get", "/status/maintenances", "Maintenance windows, latest first", "viewer", None, [], "200"),
    ("post", "/status/maintenances", "Schedule a maintenance window", "lead", MaintenanceIn, [], "201"),
    ("get", "/status/maintenances/{maintenance_id}", "A maintenance window", "viewer", None, [MAINTENANCE], "200"),
    ("delete", "/status/maintenances/{maintenance_id}", "Cancel a maintenance window", "lead", None, [MAINTENANCE], "200"),
    # Post-incident reviews and action items (staff only; nothing of them reaches the status page).
    ("get", "/incidents/{incident_id}/review", "The post-incident review: status, key times, sections, the record "
     "(frozen once published) and the action items", "viewer", None, [ID], "200"),
    ("post", "/incidents/{incident_id}/review", "Open a review by hand for a resolved incident that has none", "lead",
     None, [ID], "201"),
    ("patch", "/incidents/{incident_id}/review", "Write sections and/or move the status (draft → in_review → published; "
     "published → draft reopens it)", "lead", ReviewPatch, [ID], "200"),
    ("get", "/incidents/{incident_id}/review.md", "The review as one Markdown document", "viewer", None, [ID], "200"),
    ("post", "/incidents/{incident_id}/action-items", "Add an action item to the review", "lead", ActionItemIn, [ID],
     "201"),
    ("patch", "/action-items/{item_id}", "Change an action item (a lead anything; its owner its state)",
     "lead, or viewer as the item's owner", ActionItemPatch, [ITEM], "200"),
    ("get", "/action-items", "Action items, soonest due first", "viewer", None,
     [_query("owner", _EMAIL, "the owner's email"), _query("state", {"type": "string", "enum": list(ITEM_STATES)}),
      _query("overdue", {"type": "string", "enum": ["true", "false"]}, "true: open and past their due day (UTC)"),
      *PAGE], "200"),
    # Known issues: the workaround is public (status page while open, broadcasts that include it); the rest is staff's.
    ("put", "/incidents/{incident_id}/known-issue", "Record or replace the incident's known issue (workaround, symptoms, "
     "cause, fix, tags, services, match phrases)", "lead", KnownIssueIn, [ID], "200"),
    ("get", "/incidents/{incident_id}/known-issue", "The incident's known issue", "viewer", None, [ID], "200"),
    # Private incidents: who may see one (members are kept for every incident).
    ("get", "/incidents/{incident_id}/members", "Who may see the incident when it is private", "viewer", None, [ID],
     "200"),
    ("post", "/incidents/{incident_id}/members", "Let a staff member see the private incident", "lead", MemberIn, [ID],
     "201"),
    ("delete", "/incidents/{incident_id}/members/{email}", "Take a staff member off the incident's members", "lead",
     None, [ID, {"name": "email", "in": "path", "required": True, "schema": {"type": "string", "format": "email",
                                                                            "maxLength": 254}}], "200"),
    ("delete", "/incidents/{incident_id}/known-issue", "Withdraw the incident's known issue", "lead", None, [ID], "200"),
    (
        "get",
        "/known-issues",
        "Search the known issues: current incidents first, then resolved ones, latest first",
        "viewer",
        None,
        [
            _query("q", {"type": "string", "maxLength": MAX_QUERY}, "every word must be found (any field, the title, "
                   "or INC-42)"),
            _query("state", {"type": "string", "enum": list(STATES)}, "current: open incidents; known: resolved"),
            _query("tag", {"type": "string", "pattern": TAG_RE.pattern}, "only entries with this tag"),
            _query("service", _SLUG, "only entries naming this service"),
            *PAGE,
        ],
        "200",
    ),
    # Reports (README, "Reports", defines every figure).
    ("get", "/reports/summary", "A period's figures: MTTA, MTTR, first public update and customer message (median, "
     "p90, per week), escalations and SLA breaches, tickets, top tags and services, broadcasts per channel",
     "viewer", None, REPORT_FILTER, "200"),
    ("get", "/reports/incidents.csv", "The same incidents, one CSV row each with its times and figures", "viewer", None,
     REPORT_FILTER, "200"),
    # Audit trail of configuration (README, "Audit trail").
    ("get", "/audit", "Configuration changes, newest first: who, when, what, before and after", "lead", None,
     [*AUDIT_FILTER, *PAGE], "200"),
    ("get", "/audit.csv", "The same changes as CSV, oldest first", "lead", None, AUDIT_FILTER, "200"),
    # Outgoing webhooks (README, "Outgoing webhooks").
    ("post", "/webhooks", "Register a webhook endpoint; the answer carries its signing secret, once", "admin",
     WebhookIn, [], "201"),
    ("get", "/webhooks", "The webhook endpoints (without their secrets)", "admin", None, [], "200"),
    ("get", "/webhooks/{endpoint_id}", "A webhook endpoint", "admin", None, [WEBHOOK], "200"),
    ("delete", "/webhooks/{endpoint_id}", "Delete a webhook endpoint; what is queued for it is cancelled", "admin",
     None, [WEBHOOK], "200"),
    ("get", "/webhooks/{endpoint_id}/deliveries", "The delivery log: each message, its state and every attempt",
     "admin", None, [WEBHOOK, *PAGE], "200"),
    ("post", "/webhooks/{endpoint_id}/test", "Queue a webhook.test event for this endpoint", "admin", None, [WEBHOOK],
     "202"),
]

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "description": "machine-readable, e.g. validation_error, incident_not_found"},
                "message": {"type": "string", "description": "safe to show to a person"},
                "details": {"type": "object", "description": "e.g. each invalid field and what is wrong with it"},
            },
        }
    },
}
ERRORS = {
    "400": "Malformed: the body is not JSON, or not an object",
    "401": "No token, or a bad one",
    "403": "The token's user lacks the permission",
    "404": "Unknown incident, ticket, customer, ...",
    "409": "Conflicts with the current state (e.g. the incident is resolved or merged)",
    "413": "The body, or the batch in it, is too large",
    "415": "The body is not sent as application/json",
    "422": "A value is invalid; details names each field",
    "429": "Too many requests; Retry-After says when to try again",
}
ABOUT_THE_BODY = ("400", "413", "415")
# Bodies that are one item or {key: [up to n items]}.
BATCHES = {TicketIn: ("tickets", TICKET_BATCH), CustomerIn: ("customers", CUSTOMER_BATCH)}
RESPONSES = responses()


def _ref(name: str, kind: str = "schemas") -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _error(code: str) -> dict:
    response = {"description": ERRORS[code], "content": {"application/json": {"schema": _ref("Error")}}}
    if code == "429":
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return response


def _body_name(schema) -> str:
    if isinstance(schema, dict):
        return schema["title"]
    return f"{schema.__name__}Batch" if schema in BATCHES else schema.__name__


def _operation(method, path, summary, permission, schema, params, status) -> dict:
    media, shape = RESPONSES[(method, path)]
    success = {"description": "Success", "content": {media: {"schema": shape}}}
    if media == "text/csv":
        success["headers"] = {
            "Content-Disposition": {"schema": {"type": "string"}, "description": 'attachment; filename="INC-42-tickets.csv"'}
        }
    if (method, path) == ("post", "/tickets"):
        success["headers"] = {"Server-Timing": {"schema": {"type": "string"}, "description": (
            "Milliseconds spent in each step of the ingest: parse, rows, lookup, customers, insert, update, "
            "rules, known_issues, commit (e.g. `parse;dur=210.3, rows;dur=80.1, …`)")}}
    op = {
        "operationId": method + "_" + "_".join(part.strip("{}") for part in path.strip("/").split("/")),
        "summary": summary,
        "description": f"Needs the `{permission}` permission.",
        "parameters": params,
        "security": [{"bearer": []}],
        "responses": {
            status: success,
            **{code: _ref(code, "responses") for code in ERRORS if schema is not None or code not in ABOUT_THE_BODY},
        },
    }
    if schema is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(_body_name(schema))}}}
    return op


class _Stripped(GenerateJsonSchema):
    """Request text is stripped before it is checked, so text that may not be empty needs more than spaces."""

    def str_schema(self, schema) -> dict:
        json_schema = super().str_schema(schema)
        if json_schema.get("minLength", 0) >= 1 and "pattern" not in json_schema:
            json_schema["pattern"] = r"\S"
        return json_schema


def _request_schemas(schema) -> dict[str, dict]:
    """The request body's schema and those it nests (pydantic's $defs), each under its own name."""
    if isinstance(schema, dict):
        return {_body_name(schema): schema}
    body = schema.model_json_schema(ref_template="#/components/schemas/{model}", schema_generator=_Stripped)
    named = {**body.pop("$defs", {}), schema.__name__: body}
    if schema in BATCHES:
        key, most = BATCHES[schema]
        named[_body_name(schema)] = {
            "oneOf": [
                _ref(schema.__name__),
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": [key],
                    "properties": {key: {"type": "array", "items": _ref(schema.__name__), "minItems": 1, "maxItems": most}},
                },
            ]
        }
    return named


def document() -> dict:
    """Build the whole document."""
    paths: dict = {}
    schemas = {"Error": ERROR, **SCHEMAS}
    for method, path, summary, permission, schema, params, status in OPERATIONS:
        paths.setdefault(path, {})[method] = _operation(method, path, summary, permission, schema, params, status)
        if schema is not None:
            for name, body in _request_schemas(schema).items():
                if schemas.setdefault(name, body) != body:
                    raise ValueError(f"two different schemas are called {name}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tocsin API",
            "version": "1.0.0",
            "description": "Incident command: incidents, crisis roles, timeline.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "security": [{"bearer": []}],
        "components": {
            "schemas": schemas,
            "responses": {code: _error(code) for code in ERRORS},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an API token of a staff member"}
            },
        },
    }


@bp.get("/api/openapi.json")
def openapi_json():
    return jsonify(document())
