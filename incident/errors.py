"""Domain errors, and their one mapping to HTTP.

Services raise these; they never know about HTTP. The API answers them in the documented
error format; the web UI shows their message.
"""
from __future__ import annotations

import logging
from contextlib import suppress

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from .extensions import db

logger = logging.getLogger(__name__)


class AppError(Exception):
    """Base class: a short machine code, an HTTP status and a message safe to show."""
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code:
            self.code = code


class BadRequest(AppError):
    status, code = 400, "bad_request"


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class NotAllowed(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class TooLarge(AppError):
    status, code = 413, "too_large"


class BodyTooLarge(TooLarge):
    """A request body over its route's limit (security.py); `size` is unknown for a chunked body."""

    def __init__(self, limit: int, size: int | None = None):
        said = f"The request body is {size} bytes; this endpoint" if size is not None else "This endpoint"
        details = {"max_bytes": limit} if size is None else {"max_bytes": limit, "got_bytes": size}
        super().__init__(f"{said} accepts at most {readable_size(limit)}.", details=details)


def readable_size(size: int) -> str:
    """64 MiB, 256 KiB, 1000 bytes: a limit as people read it."""
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


class UnsupportedMediaType(AppError):
    status, code = 415, "unsupported_media_type"


class ValidationFailed(AppError):
    status, code = 422, "validation_error"


class IncidentNotFound(NotFound):
    def __init__(self, incident_id):
        super().__init__(f"No incident {incident_id}.", code="incident_not_found")


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _wants_json() -> bool:
    path = request.path
    return path.startswith(("/api/", "/healthz", "/slack/", "/twilio/", "/webhooks/")) or (
        request.accept_mimetypes.best == "application/json"
    )


def end_session(_error: BaseException | None = None) -> None:
    """Close the request's database session without ever raising: when the database dropped its connection
    (killed, restarting) after the last query, the rollback that closing sends would fail on the dead
    socket and turn an answered request into a 500 — so the connection is invalidated instead (the
    server has rolled it back already) and the pool replaces it."""
    try:
        db.session.remove()
    except (OperationalError, InterfaceError) as error:
        logger.warning("the database dropped a request's connection (%s); it is discarded",
                       type(getattr(error, "orig", error)).__name__)
        with suppress(Exception):
            db.session.registry().invalidate()
        db.session.registry.clear()


def init_app(app: Flask) -> None:
    """Answer errors in the documented JSON format on API paths, as pages elsewhere."""
    app.teardown_appcontext(end_session)   # registered after Flask-SQLAlchemy's, so it runs first
    @app.errorhandler(AppError)
    def _app_error(error: AppError):
        if _wants_json():
            return jsonify(error_body(error.code, error.message, error.details)), error.status
        from flask import render_template

        return render_template("error.html", status=error.status, message=error.message), error.status

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if _wants_json():
            code = (error.name or "error").lower().replace(" ", "_")
            if error.code == 400 and "CSRF" in (error.description or ""):
                code = "csrf_failed"
            if error.code == 413:  # Werkzeug's own limits (a form field, the number of parts)
                code = "too_large"
            response = jsonify(error_body(code, error.description or error.name))
            response.status_code = error.code or 500
            if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
                response.headers["Allow"] = ", ".join(error.valid_methods)
            return response
        from flask import render_template

        return (
            render_template("error.html", status=error.code, message=error.description),
            error.code,
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_away(error: Exception):
        """The database is unreachable (restarting, connections killed): 503 with a clear answer and
        a hint when to retry, not a 500 and a stack trace; the pool reconnects by itself afterwards."""
        logger.warning("database unavailable on %s %s: %s", request.method, request.path,
                       type(getattr(error, "orig", error)).__name__)
        end_session()   # the connection may be gone: never a rollback that raises again
        message = "The database is unavailable for a moment; nothing was changed. Try again in a few seconds."
        if _wants_json():
            response = jsonify(error_body("database_unavailable", message))
        else:
            response = Response(f"503 Service Unavailable\n\n{message}\n", mimetype="text/plain")
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        logger.exception("unhandled error on %s %s", request.method, request.path)

        db.session.rollback()
        if _wants_json():
            return jsonify(error_body("internal_error", "Something went wrong on our side.")), 500
        from flask import render_template

        return render_template("error.html", status=500, message="Something went wrong."), 500
