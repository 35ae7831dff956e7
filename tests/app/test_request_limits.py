"""Request bodies: deeply nested JSON is a 400, and each route has a size limit (413 beyond it)."""
from __future__ import annotations

import io
import json
from urllib.parse import urlencode

import pytest

from ..conftest import count_rows
from ..factories import tickets
from ..helpers import declare, logged_in
from ..web_helpers import csrf_from

TABLES = ("incidents", "tickets", "customers", "timeline_events", "escalation_policies", "status_components")
KIB = 1024


def nested(depth: int, inside: str = "") -> str:
    """`depth` arrays one inside the other: 5,000 of them are a 10 KB body."""
    return "[" * depth + inside + "]" * depth


JSON_ENDPOINTS = [("post", "/api/v1/incidents"), ("post", "/api/v1/tickets"), ("post", "/api/v1/customers"),
                  ("put", "/api/v1/escalation-policies/deep"), ("post", "/api/v1/escalation-policies/simulate"),
                  ("post", "/api/v1/status/components"), ("post", "/api/v1/incidents/{id}/tickets"),
                  ("post", "/api/v1/incidents/{id}/broadcasts/preview"), ("patch", "/api/v1/incidents/{id}")]


@pytest.mark.parametrize("method, path", JSON_ENDPOINTS)
@pytest.mark.parametrize("body", [nested(5000), '{"title": ' + nested(5000, "1") + "}",
                                  '{"tickets": [' + nested(5000) + "]}"], ids=["array", "in-a-field", "in-a-list"])
def test_deeply_nested_json_is_a_400_everywhere(app, api_as, method, path, body):
    api = api_as("admin")
    incident_id = declare(api)["id"]
    before = count_rows(app, *TABLES)
    response = getattr(api, method)(path.format(id=incident_id), data=body,
                                    headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "malformed_json"
    assert "nested too deeply" in error["message"]
    assert count_rows(app, *TABLES) == before


@pytest.mark.parametrize("depth", [50, 400, 800])
def test_moderately_nested_json_is_refused_without_a_500(app, api_as, depth):
    api = api_as("admin")
    before = count_rows(app, *TABLES)
    for method, path in JSON_ENDPOINTS:
        body = {"title": json.loads(nested(depth, "1")), "severity": "SEV1"}
        response = getattr(api, method)(path.format(id=1), data=json.dumps(body),
                                        headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, (path, response.get_data(as_text=True)[:300])
    assert count_rows(app, *TABLES) == before


# Body size -----------------------------------------------------------------------------------

def padded_declaration(size: int) -> bytes:
    body = json.dumps({"title": "Login failing", "severity": "SEV2", "summary": ""})
    return body[:-2].encode() + b" " * (size - len(body)) + b'"}'   # valid JSON, `size` bytes


def test_a_300_kb_body_to_an_ordinary_endpoint_is_a_413_and_writes_nothing(app, api):
    before = count_rows(app, *TABLES)
    response = api.post("/api/v1/incidents", data=padded_declaration(300 * KIB),
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "too_large"
    assert error["details"] == {"max_bytes": 256 * KIB, "got_bytes": 300 * KIB}
    assert "256 KiB" in error["message"]
    assert count_rows(app, *TABLES) == before
    small = api.post("/api/v1/incidents", data=padded_declaration(200 * KIB),
                     headers={"Content-Type": "application/json"})
    assert small.status_code == 201   # under the limit: accepted as before


def test_the_limit_is_a_setting(app, api, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_BODY_BYTES", 8 * KIB)
    response = api.post("/api/v1/incidents", data=padded_declaration(9 * KIB),
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.get_json()["error"]["details"]["max_bytes"] == 8 * KIB


def chunked(api, path: str, body: bytes, content_type: str = "application/json"):
    """A body sent without Content-Length, as gunicorn passes a chunked request on."""
    return api.post(path, input_stream=io.BytesIO(body),
                    headers={"Content-Type": content_type, "Transfer-Encoding": "chunked"},
                    environ_overrides={"wsgi.input_terminated": True})


def test_a_body_without_a_length_is_held_to_the_limit_too(app, api):
    before = count_rows(app, *TABLES)
    response = chunked(api, "/api/v1/incidents", padded_declaration(256 * KIB + 1))
    assert response.status_code == 413
    assert response.get_json()["error"] == {"code": "too_large", "message": "This endpoint accepts at most 256 KiB.",
                                            "details": {"max_bytes": 256 * KIB}}
    assert count_rows(app, *TABLES) == before
    assert chunked(api, "/api/v1/incidents", padded_declaration(256 * KIB)).status_code == 201


def test_a_big_form_post_to_a_staff_page_is_a_413(app, client, make_user, api):
    logged_in(client, make_user)
    incident_id = declare(api)["id"]
    before = count_rows(app, *TABLES)
    response = client.post(f"/incidents/{incident_id}/notes",
                           data={"text": "x" * (300 * KIB), "csrf_token": csrf_from(client, "/")})
    assert response.status_code == 413
    assert "at most 256 KiB" in response.get_data(as_text=True)
    # without a length, the token first: reading stops at the limit, and half a note is not saved
    body = urlencode({"csrf_token": csrf_from(client, "/"), "text": "x" * (300 * KIB)}).encode()
    assert chunked(client, f"/incidents/{incident_id}/notes", body,
                   content_type="application/x-www-form-urlencoded").status_code == 413
    assert count_rows(app, *TABLES) == before


def test_a_big_body_to_the_public_subscribe_form_is_a_413(app, client):
    response = client.post("/status/subscribe", data={"channel": "email", "address": "a" * (300 * KIB)})
    assert response.status_code == 413
    assert count_rows(app, "status_subscriptions")["status_subscriptions"] == 0


def test_a_ticket_batch_far_over_the_ordinary_limit_is_accepted(app, api_as):
    agent = api_as("agent")
    batch = tickets(10_000, description="The login page says 502 and then nothing at all loads. " * 4)
    body = json.dumps({"tickets": batch})
    assert len(body) > 4 * 1024 * KIB
    response = agent.post("/api/v1/tickets", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == 10_000


def test_the_ticket_batch_has_its_own_limit(app, api_as, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_BATCH_BODY_BYTES", 64 * KIB)
    agent = api_as("agent")
    response = agent.post("/api/v1/tickets", json={"tickets": tickets(1_000)})
    assert response.status_code == 413
    assert response.get_json()["error"]["details"]["max_bytes"] == 64 * KIB
    assert count_rows(app, "tickets")["tickets"] == 0


def test_customer_batches_and_links_by_id_take_the_batch_limit(app, api_as):
    agent = api_as("agent")
    customers = [{"email": f"customer{n}@example.com", "name": f"Customer number {n}"} for n in range(8_000)]
    body = json.dumps({"customers": customers})
    assert len(body) > 256 * KIB
    response = agent.post("/api/v1/customers", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.get_json()
    incident_id = declare(api_as("lead"))["id"]
    ids = {"external_ids": [f"ZD-{n:09d}" for n in range(30_000)], "source": "zendesk"}
    assert len(json.dumps(ids)) > 256 * KIB
    linked = agent.post(f"/api/v1/incidents/{incident_id}/tickets", json=ids)
    assert linked.status_code == 200, linked.get_json()
    assert len(linked.get_json()["not_found"]) == 30_000


def test_a_csv_upload_over_the_ordinary_limit_is_accepted(app, client, make_user, api):
    logged_in(client, make_user)
    rows = "".join(f"ZD-{n},Cannot log in ({n}),{'The login page says 502. ' * 10},login\n" for n in range(1, 1_501))
    data = ("id,subject,description,tags\n" + rows).encode()
    assert len(data) > 256 * KIB
    response = client.post("/tickets/import", data={
        "file": (io.BytesIO(data), "export.csv"), "csrf_token": csrf_from(client, "/tickets")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    assert count_rows(app, "tickets")["tickets"] == 1_500


def test_a_csv_upload_has_its_own_limit(app, client, make_user, monkeypatch):
    logged_in(client, make_user)
    monkeypatch.setitem(app.config, "MAX_UPLOAD_BODY_BYTES", 64 * KIB)
    data = b"id,subject\n" + b"".join(b"ZD-%d,Cannot log in\n" % n for n in range(5_000))
    response = client.post("/tickets/import", data={
        "file": (io.BytesIO(data), "export.csv"), "csrf_token": csrf_from(client, "/tickets")},
        content_type="multipart/form-data")
    assert response.status_code == 413
    assert count_rows(app, "tickets")["tickets"] == 0
