"""Logging in and posting forms the way a browser does: with the page's CSRF token."""
from __future__ import annotations

import re

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(client, path="/login") -> str:
    match = CSRF_RE.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, email, password):
    token = csrf_from(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def post_form(client, path, data, page="/"):
    return client.post(path, data={**data, "csrf_token": csrf_from(client, page)})


# The broadcast compose form -------------------------------------------------------------------

FORM = {"kind": "apology", "channels": ["email", "sms", "slack"], "audience": ["service_subscribers"],
        "segments": "", "message": "", "when": "now", "send_at": "", "repeat_every_minutes": "",
        "next_update_minutes": ""}


def compose_path(incident_id):
    return f"/incidents/{incident_id}/broadcasts/new"


def post_compose(client, incident_id, **changes):
    return post_form(client, compose_path(incident_id), {**FORM, **changes}, page=compose_path(incident_id))


def preview(client, incident_id, **changes):
    return post_form(client, f"/incidents/{incident_id}/broadcasts/preview", {**FORM, **changes},
                     page=compose_path(incident_id))
