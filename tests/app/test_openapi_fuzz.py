"""Schemathesis over the whole /api/openapi.json, in-process: valid and invalid requests generated
from the document, as an admin, with data present. No answer may be a 5xx, and every answer must be
documented: its status code, its content type and its body's schema.

One test per operation, all on the same data, made once, in two of schemathesis' phases: coverage
(every boundary and every kind of wrong value of every field, deterministic) and fuzzing (random
valid and invalid requests, derandomized). Bounded to 10 fuzzed examples per operation so the suite
stays quick (about 45 s on SQLite); TOCSIN_FUZZ_EXAMPLES=60 searches deeper (minutes).

Nothing is left out: the CSV export streams, but in-process that is read like any answer; the
webhooks (Slack, Twilio signatures) and the public status feeds are not in the document. The
stateful phase is off: the document declares no links between operations to follow.
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from incident import clock
from incident.openapi import document

from ..conftest import T0, truncate
from ..factories import tickets

EXAMPLES = int(os.environ.get("TOCSIN_FUZZ_EXAMPLES", "10"))
COVERAGE = os.environ.get("TOCSIN_FUZZ_COVERAGE", "1") == "1"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SETUP = (
    # a webhook first, so every change below queues a message for its delivery log (nothing is sent in-process)
    ("post", "/api/v1/webhooks", {"url": "https://hooks.example.com/tocsin", "events": [
        "incident.declared", "incident.status_updated", "escalation.escalated"]}),
    ("put", "/api/v1/rotations/support", {"users": ["amy@example.com"], "shift_hours": 24,
                                          "starts_at": "2026-11-01T00:00:00+00:00"}),
    ("put", "/api/v1/escalation-policies/default", {"levels": [
        {"name": "L1", "targets": [{"rotation": "support"}], "ack_timeout_seconds": 900}]}),
    ("post", "/api/v1/incidents", {"title": "Login failing", "severity": "SEV2", "services": ["login"]}),
    ("post", "/api/v1/incidents", {"title": "Payments slow", "severity": "SEV3", "services": ["api"]}),
    ("post", "/api/v1/tickets", {"tickets": tickets(5, services=["login"])}),
    ("post", "/api/v1/incidents/1/tickets", {"external_ids": ["ZD-1", "ZD-2", "ZD-3"], "source": "zendesk"}),
    ("post", "/api/v1/incidents/1/link-rules", {"tags": ["login"]}),
    ("post", "/api/v1/incidents/1/escalate", {}),
    ("post", "/api/v1/customers", {"external_id": "C-1", "email": "ops@acme.example", "services": ["login"]}),
    ("post", "/api/v1/incidents/1/broadcasts", {"kind": "status", "channels": ["email"],
                                                "send_at": "2027-01-01T00:00:00+00:00"}),
    ("post", "/api/v1/status/components", {"name": "Login", "service": "login"}),
    ("put", "/api/v1/incidents/2/known-issue", {"workaround": "Use the app", "fix": "Roll back", "tags": ["login"],
                                                "match_phrases": ["log in"]}),
    ("post", "/api/v1/status/maintenances", {"name": "Upgrade", "scheduled_for": "2027-01-01T00:00:00+00:00",
                                             "scheduled_until": "2027-01-01T01:00:00+00:00", "components": [1]}),
    ("post", "/api/v1/incidents", {"title": "Checkout down", "severity": "SEV1", "services": ["api"]}),
    ("post", "/api/v1/incidents/3/updates", {"status": "resolved", "message": "fixed"}),   # opens its review
    ("post", "/api/v1/incidents/3/action-items", {"title": "Add a canary", "owner": "amy@example.com",
                                                  "due_on": "2026-12-01"}),
)


@pytest.fixture(autouse=True)
def _clean():
    """Replaces conftest's: the data is made once for the whole module (below), and removed after it."""
    yield


@pytest.fixture(scope="module")
def token(app):
    """An admin's API token, and some of everything for the generated requests to find (ids 1 and 2).

    The operations run in the document's order against the same data, each changing it as it goes."""
    from incident.auth.service import create_token, create_user
    from incident.outbox.channels.sandbox import SandboxChannel

    clock.freeze(T0)   # the same answers whatever the day: "already over", "a year ahead", who is on call
    # webhook URLs the fuzzer makes up are not resolved (no test reaches a DNS server); the checks have their own tests
    app.config["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = True
    app.extensions["tocsin_channels"] = {name: SandboxChannel(name) for name in ("slack", "sms", "email")}
    with app.app_context():
        create_user("amy@example.com", role="engineer", phone="+393471111111", slack_id="UAMY")
        create_user("root@example.com", role="admin")
        token = create_token("root@example.com")
    client = app.test_client()
    for method, path, body in SETUP:
        response = client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code in (200, 201), (path, response.get_json())
    yield token
    app.extensions.pop("tocsin_channels", None)
    app.config["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = False
    clock.unfreeze()
    truncate(app)


# The document as served (test_openapi.py checks it is the one built here), read at collection.
schema = schemathesis.openapi.from_dict(document(), config=schemathesis.Config.from_dict(
    {"phases": {"coverage": {"enabled": COVERAGE}, "stateful": {"enabled": False}}}))


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_answers_as_documented(case, app, token):
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
