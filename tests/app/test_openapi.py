"""/api/openapi.json describes every /api/v1 route, and nothing that is not there."""
from __future__ import annotations

import re


def test_every_api_route_is_documented(app, client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule[len("/api/v1"):])
            routed |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed == documented
    for ops in doc["paths"].values():
        for op in ops.values():
            ref = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
            if ref:
                assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"]


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_reference_resolves(client):
    """A third-party tool must find every `$ref` where it points, inside this one document."""
    doc = client.get("/api/openapi.json").get_json()
    refs = set(_refs(doc))
    assert "#/components/schemas/AudienceIn" in refs and "#/components/schemas/Requester" in refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
            node = node[part]
    assert not any("$defs" in schema for schema in doc["components"]["schemas"].values())


def test_the_document_describes_what_the_api_answers(client):
    """Lists as the envelope they come in, the CSV export as CSV, errors in their real shape, the token."""
    doc = client.get("/api/openapi.json").get_json()
    listed = doc["paths"]["/incidents"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed["required"] == ["items", "page", "per_page", "total"]
    assert doc["paths"]["/incidents/{incident_id}/broadcasts"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]["type"] == "array"
    assert "text/csv" in doc["paths"]["/incidents/{incident_id}/tickets.csv"]["get"]["responses"]["200"]["content"]
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "an API token of a staff member"}
    error = doc["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "details"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert {"401", "403", "404", "422", "429"} <= set(op["responses"]), (method, path)
            if "requestBody" in op:
                assert {"400", "413", "415"} <= set(op["responses"]), (method, path)
