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
