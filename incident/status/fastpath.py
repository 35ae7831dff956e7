"""A WSGI layer in front of Flask that answers a refresh storm from the snapshot.

The first request for a resource under a snapshot version goes through Flask as usual (the
route renders it, the app adds its headers); its exact status, headers and body are kept
with the snapshot key. Later requests for it under the same key, while the version check is
fresh, are answered here without entering Flask. Anything else falls through untouched.
"""
from __future__ import annotations

from urllib.parse import parse_qs

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header, parse_etags

from . import i18n
from .statuspage import NAMES

ENV_KEY = "tocsin.status_snapshot"   # set by the route: (resource name, snapshot key)
API = {f"/api/v2/{name}": name for name in NAMES}


def resource_name(environ) -> str | None:
    path = environ.get("PATH_INFO", "")
    if path in API:
        return API[path]
    if path == "/status/feed.atom":
        return "feed.atom"
    if path == "/status":
        lang = parse_qs(environ.get("QUERY_STRING", "")).get("lang", [None])[0]
        accept = parse_accept_header(environ.get("HTTP_ACCEPT_LANGUAGE"), LanguageAccept)
        return f"page.{i18n.pick_locale(lang, accept)}"
    return None


class FastPublic:
    def __init__(self, app, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        name = resource_name(environ) if method in ("GET", "HEAD") else None
        snapshot = self.app.extensions.get("status_snapshot")
        if name is None or snapshot is None:
            return self.wsgi_app(environ, start_response)
        hit = snapshot.served(name)
        if hit is not None:
            etag, headers, body = hit
            match = environ.get("HTTP_IF_NONE_MATCH")
            if match and parse_etags(match).contains_weak(etag.strip('"')):
                start_response("304 NOT MODIFIED", [h for h in headers if h[0].lower() not in
                                                    ("content-length", "content-type")])
                return [b""]
            start_response("200 OK", headers)
            return [b""] if method == "HEAD" else [body]
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info)

        chunks = list(self.wsgi_app(environ, capture))
        mark = environ.get(ENV_KEY)
        if (method == "GET" and mark and mark[0] == name and captured.get("status", "").startswith("200")
                and not any(k.lower() == "set-cookie" for k, _ in captured["headers"])):
            snapshot.keep(name, mark[1], list(captured["headers"]), b"".join(chunks))
        return chunks
