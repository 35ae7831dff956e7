"""The OpenAPI 3 document of /api/v1, served at /api/openapi.json.

Request bodies come from the same pydantic schemas the routes validate with, so the
document cannot drift from what the API accepts. A test checks every /api/v1 route is here.
"""
from __future__ import annotations

from flask import Blueprint, jsonify

from .roles.schemas import AssignRole, TickItem
from .incidents.schemas import DeclareIncident, EditIncident, Note, PostUpdate
from .escalation.schemas import EscalateIn, OverrideIn, RotationIn, SimulateIn
from .tickets.schemas import LinkIn, LinkRuleIn, MergeIn, TicketIn, UnlinkIn
from .customers.schemas import CustomerIn, CustomerPatch
from .broadcast.schemas import BroadcastEdit, BroadcastIn
from .status.schemas import ComponentEdit, ComponentIn, ImpactIn, MaintenanceIn

bp = Blueprint("openapi", __name__)

ID = {"name": "incident_id", "in": "path", "required": True, "schema": {"type": "integer"}}
ROLE = {"name": "role", "in": "path", "required": True, "schema": {"type": "string", "enum": [
    "commander", "communications", "scribe", "technical_lead", "customer_liaison", "subject_matter_expert"]}}
COMPONENT = {"name": "component_id", "in": "path", "required": True, "schema": {"type": "integer"}}
MAINTENANCE = {"name": "maintenance_id", "in": "path", "required": True, "schema": {"type": "integer"}}
NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
BROADCAST = {"name": "broadcast_id", "in": "path", "required": True, "schema": {"type": "integer"}}
CUSTOMER = {"name": "customer_id", "in": "path", "required": True, "schema": {"type": "integer"}}
PAGE = [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}]

TICKET_FILTER = [{"name": n, "in": "query", "schema": {"type": "string"}, "description": d} for n, d in (
    ("tag", "repeatable; every tag must be present"), ("service", "repeatable; any of them"),
    ("q", "text in subject or description"), ("since", "ISO 8601"), ("until", "ISO 8601"),
    ("source", "helpdesk"), ("unlinked", "true: only tickets on no incident"))]

# (method, path, summary, permission, request schema, parameters, success status)
OPERATIONS = [
    ("post", "/incidents", "Declare an incident", "lead", DeclareIncident, [], "201"),
    ("get", "/incidents", "List incidents", "viewer", None,
     [{"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "resolved", "all"]}}, *PAGE], "200"),
    ("get", "/incidents/{incident_id}", "Get an incident", "viewer", None, [ID], "200"),
    ("patch", "/incidents/{incident_id}", "Edit title, severity, summary or services", "lead", EditIncident, [ID], "200"),
    ("post", "/incidents/{incident_id}/updates", "Post a status update (moves the status)", "lead", PostUpdate, [ID], "201"),
    ("get", "/incidents/{incident_id}/updates", "List status updates, newest first", "viewer", None, [ID], "200"),
    ("post", "/incidents/{incident_id}/notes", "Add a note to the timeline", "agent", Note, [ID], "201"),
    ("get", "/incidents/{incident_id}/timeline", "The timeline, oldest first", "viewer", None, [ID, *PAGE], "200"),
    ("get", "/incidents/{incident_id}/roles", "Current role holders, gaps and every term", "viewer", None, [ID], "200"),
    ("put", "/incidents/{incident_id}/roles/{role}", "Assign or hand over a crisis role", "lead", AssignRole, [ID, ROLE], "200"),
    ("delete", "/incidents/{incident_id}/roles/{role}", "Relieve a role's holder(s)", "lead", None,
     [ID, ROLE, {"name": "user", "in": "query", "schema": {"type": "string", "format": "email"}}], "200"),
    ("get", "/incidents/{incident_id}/checklists", "Runbook checklists per role", "viewer", None,
     [ID, {"name": "role", "in": "query", "schema": {"type": "string"}}], "200"),
    ("post", "/incidents/{incident_id}/checklists", "Tick or untick a checklist item", "role holder or lead",
     TickItem, [ID], "200"),
    ("post", "/tickets", "Ingest one ticket, or {\"tickets\": [...]} with up to 10,000 (upsert on source + external_id)",
     "agent", TicketIn, [], "200"),
    ("get", "/tickets", "List tickets, newest first", "viewer", None, [*TICKET_FILTER, *PAGE,
     {"name": "incident_id", "in": "query", "schema": {"type": "integer"}}], "200"),
    ("get", "/incidents/{incident_id}/tickets", "The incident's linked tickets", "viewer", None,
     [ID, *TICKET_FILTER, *PAGE], "200"),
    ("post", "/incidents/{incident_id}/tickets", "Bulk link by external ids or by filter", "agent", LinkIn, [ID], "200"),
    ("delete", "/incidents/{incident_id}/tickets/{external_id}", "Unlink one ticket", "agent", None,
     [ID, {"name": "external_id", "in": "path", "required": True, "schema": {"type": "string"}},
      {"name": "source", "in": "query", "schema": {"type": "string"}}], "200"),
    ("post", "/incidents/{incident_id}/tickets/unlink", "Unlink many: by ids, filter or all", "agent", UnlinkIn, [ID], "200"),
    ("get", "/incidents/{incident_id}/tickets.csv", "Export the linked tickets as CSV", "viewer", None, [ID], "200"),
    ("post", "/incidents/{incident_id}/link-rules", "Add a rule that links matching new tickets", "agent",
     LinkRuleIn, [ID], "201"),
    ("get", "/incidents/{incident_id}/link-rules", "List link rules", "viewer", None, [ID], "200"),
    ("delete", "/incidents/{incident_id}/link-rules/{rule_id}", "Stop a link rule", "agent", None,
     [ID, {"name": "rule_id", "in": "path", "required": True, "schema": {"type": "integer"}}], "200"),
    ("post", "/incidents/{incident_id}/merge", "Merge this duplicate into another incident", "lead", MergeIn, [ID], "200"),
    ("post", "/incidents/{incident_id}/broadcasts", "Schedule a broadcast to customers (now, at send_at, or on a cadence)",
     "lead", BroadcastIn, [ID], "201"),
    ("get", "/incidents/{incident_id}/broadcasts", "The incident's broadcasts with their delivery counts", "viewer",
     None, [ID], "200"),
    ("post", "/incidents/{incident_id}/broadcasts/preview", "Each channel's message in each locale; saves nothing",
     "agent", BroadcastIn, [ID], "200"),
    ("get", "/broadcasts/{broadcast_id}", "A broadcast with its delivery counts", "viewer", None, [BROADCAST], "200"),
    ("patch", "/broadcasts/{broadcast_id}", "Edit what has not gone out yet", "lead", BroadcastEdit, [BROADCAST], "200"),
    ("delete", "/broadcasts/{broadcast_id}", "Cancel what has not gone out", "lead", None, [BROADCAST], "200"),
    ("get", "/broadcasts/{broadcast_id}/deliveries", "Each customer's delivery: channel, status, reason", "viewer", None,
     [BROADCAST, {"name": "status", "in": "query", "schema": {"type": "string", "enum": [
         "queued", "sending", "sent", "delivered", "failed", "skipped", "cancelled"]}}, *PAGE], "200"),
    ("put", "/escalation-policies/{name}", "Create or replace an escalation policy (levels, repeat, applies_to)",
     "admin", None, [NAME], "200"),
    ("get", "/escalation-policies/{name}", "An escalation policy", "viewer", None, [NAME], "200"),
    ("get", "/escalation-policies", "Every escalation policy", "viewer", None, [], "200"),
    ("post", "/escalation-policies/simulate", "Who is paged, when and on what, if nobody acknowledges", "viewer",
     SimulateIn, [], "200"),
    ("put", "/rotations/{name}", "Create or replace an on-call rotation", "admin", RotationIn, [NAME], "200"),
    ("get", "/rotations/{name}", "A rotation and who is on call now (or ?at=)", "viewer", None,
     [NAME, {"name": "at", "in": "query", "schema": {"type": "string", "format": "date-time"}}], "200"),
    ("get", "/rotations", "Every rotation", "viewer", None, [], "200"),
    ("post", "/rotations/{name}/overrides", "Someone covers the rotation for a while", "lead", OverrideIn, [NAME], "201"),
    ("post", "/incidents/{incident_id}/escalate", "Escalate to the next level or a named one", "engineer",
     EscalateIn, [ID], "200"),
    ("post", "/incidents/{incident_id}/acknowledge", "Acknowledge as the calling user", "engineer", None, [ID], "200"),
    ("get", "/incidents/{incident_id}/escalation", "The escalation: level, clocks, breaches, acknowledgements",
     "viewer", None, [ID], "200"),
    ("post", "/customers", "Create or update one customer, or {\"customers\": [...]} with up to 10,000 (upsert on "
     "external_id, else email; fields left out keep their value)", "agent", CustomerIn, [], "200"),
    ("get", "/customers", "List customers by id", "viewer", None, [*({"name": n, "in": "query", "schema": {"type": "string"},
     "description": d} for n, d in (("segment", "exact segment"), ("service", "subscribed to this service"),
                                    ("email", "exact email"))), *PAGE], "200"),
    ("get", "/customers/{customer_id}", "Get a customer", "viewer", None, [CUSTOMER], "200"),
    ("patch", "/customers/{customer_id}", "Edit details, channel preferences, services or opt-outs (adding an opt-out: agent; lifting an "
     "email or Slack one: lead; an SMS one: only the customer, by START)", "agent",
     CustomerPatch, [CUSTOMER], "200"),
    # The status page (staff side; the public side is /status and /api/v2, Statuspage-compatible).
    ("get", "/status/components", "Status page components, in page order, with their state", "viewer", None, [], "200"),
    ("post", "/status/components", "Add a component (or a group, named by `group`)", "lead", ComponentIn, [], "201"),
    ("patch", "/status/components/{component_id}", "Edit a component", "lead", ComponentEdit, [COMPONENT], "200"),
    ("delete", "/status/components/{component_id}", "Remove a component from the page", "lead", None, [COMPONENT], "200"),
    ("get", "/incidents/{incident_id}/status-impact", "How the incident reads on the status page", "viewer", None,
     [ID], "200"),
    ("put", "/incidents/{incident_id}/status-impact", "Override the incident's impact and component states", "lead",
     ImpactIn, [ID], "200"),
    ("get", "/status/maintenances", "Maintenance windows, latest first", "viewer", None, [], "200"),
    ("post", "/status/maintenances", "Schedule a maintenance window", "lead", MaintenanceIn, [], "201"),
    ("get", "/status/maintenances/{maintenance_id}", "A maintenance window", "viewer", None, [MAINTENANCE], "200"),
    ("delete", "/status/maintenances/{maintenance_id}", "Cancel a maintenance window", "lead", None, [MAINTENANCE], "200"),
]

ERROR = {"type": "object", "properties": {"error": {"type": "object", "properties": {
    "code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}}}}}


def _operation(method, summary, permission, schema, params, status) -> dict:
    op = {"summary": summary, "description": f"Needs the `{permission}` permission.",
          "parameters": params, "security": [{"bearer": []}],
          "responses": {status: {"description": "Success", "content": {"application/json": {"schema": {"type": "object"}}}},
                        **{code: {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                           for code, text in (("400", "Malformed JSON"), ("401", "No or bad token"),
                                              ("403", "Permission missing"), ("404", "Unknown"),
                                              ("409", "Conflict"), ("413", "Body larger than this endpoint accepts"),
                                              ("415", "Not JSON"), ("422", "Invalid value"))}}}
    if schema is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{schema.__name__}"}}}}
    return op


def document() -> dict:
    """Build the whole document."""
    paths: dict = {}
    schemas = {"Error": ERROR}
    for method, path, summary, permission, schema, params, status in OPERATIONS:
        paths.setdefault(path, {})[method] = _operation(method, summary, permission, schema, params, status)
        if schema is not None:
            schemas[schema.__name__] = schema.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"openapi": "3.1.0",
            "info": {"title": "Tocsin API", "version": "1.0.0",
                     "description": "Incident command: incidents, crisis roles, timeline."},
            "servers": [{"url": "/api/v1"}], "paths": paths,
            "components": {"schemas": schemas,
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}}


@bp.get("/api/openapi.json")
def openapi_json():
    return jsonify(document())
