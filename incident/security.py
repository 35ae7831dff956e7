"""Protections every request shares: a body-size limit per route, the bearer token it carries, the
trusted proxies in front of the app, and the headers that keep staff pages and the API out of caches and on HTTPS."""
from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from .errors import BodyTooLarge

DEFAULT_LIMIT = "MAX_BODY_BYTES"
_LIMIT_ATTRIBUTE = "tocsin_body_limit"


def body_limit(setting: str) -> Callable:
    """Give a view the body-size limit named by a setting (e.g. MAX_BATCH_BODY_BYTES) instead of MAX_BODY_BYTES."""

    def decorator(view):
        setattr(view, _LIMIT_ATTRIBUTE, setting)
        return view

    return decorator


def bearer_token() -> str | None:
    """The token of this request's `Authorization: Bearer <token>` header; None without one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def limit_for(endpoint: str | None) -> int:
    """The most bytes a request body to `endpoint` may have."""
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return int(current_app.config[getattr(view, _LIMIT_ATTRIBUTE, DEFAULT_LIMIT)])


def _limit_body() -> None:
    """Before anything reads the body (CSRF, a webhook's signature): this route's limit, 413 beyond it."""
    limit = limit_for(request.endpoint)
    length = request.content_length
    if length is not None and length > limit:
        raise BodyTooLarge(limit, length)
    if length is None and request.environ.get("wsgi.input_terminated"):
        # Chunked, no length: Werkzeug would stop reading at the limit without a word (a truncated
        # form could be saved), so read one byte more to tell. The body is kept for the view.
        request.max_content_length = limit + 1
        if len(request.get_data(cache=True, parse_form_data=False)) > limit:
            raise BodyTooLarge(limit)
    request.max_content_length = limit


def _cache_and_transport_headers(response: Response) -> Response:
    """`no-store` on everything that does not choose its own caching (staff pages, the API); HSTS on
    answers over HTTPS, except the public status page's shared, cacheable ones."""
    public = bool(response.cache_control.public)
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    max_age = current_app.config["HSTS_MAX_AGE"]
    if request.is_secure and not public and max_age > 0:
        response.headers.setdefault("Strict-Transport-Security", f"max-age={max_age}")
    return response


def init_app(app: Flask) -> None:
    """Install the body limit ahead of every other before_request hook, the headers, and ProxyFix."""
    app.before_request_funcs.setdefault(None, []).insert(0, _limit_body)
    app.after_request(_cache_and_transport_headers)
    hops = app.config["TRUSTED_PROXIES"]
    if hops > 0:  # only then may X-Forwarded-For/-Proto be believed: a client can send them too
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
