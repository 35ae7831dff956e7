"""Helpers every JSON API blueprint shares: body parsing, validation and pagination."""
from __future__ import annotations

from typing import TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import BadRequest, UnsupportedMediaType, ValidationFailed

M = TypeVar("M", bound=BaseModel)
MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000


def validation_details(error: ValidationError) -> dict:
    """Pydantic's errors as {"field.path": "message"}."""
    details: dict[str, str] = {}
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        details.setdefault(where, message)
    return details


def json_body(*, keep: bool = True) -> dict:
    """The request's JSON object; 415 for another content type, 400 for malformed or absurdly nested JSON.
    keep=False: not cached on the request, so a big batch can be freed as soon as it is used."""
    if not request.is_json:
        raise UnsupportedMediaType("Send JSON with Content-Type: application/json.")
    raw = request.get_data()   # read first: with cache=False, get_json leaves nothing to check for NUL below
    try:
        data = request.get_json(silent=True, cache=keep)
    except RecursionError:  # thousands of brackets: json stops at Python's recursion limit
        raise BadRequest("The JSON is nested too deeply.", code="malformed_json",
                         details={"body": "nested too deeply"}) from None
    if data is None:
        raise BadRequest("The body is not valid JSON.", code="malformed_json")
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="malformed_json")
    if b"\\u0000" in raw:  # PostgreSQL cannot store it in text; no person types it
        raise ValidationFailed("Text may not contain the NUL character (\\u0000).", details={"body": "NUL"})
    return data


def refuse_nul_in_url() -> None:
    """Before every request: PostgreSQL cannot compare text holding NUL, and no URL a person writes has one."""
    if "\x00" in request.path or any("\x00" in key or any("\x00" in value for value in values)
                                     for key, values in request.args.lists()):
        raise ValidationFailed("The URL may not contain the NUL character (%00).", details={"url": "NUL"})


def parse(model: type[M], data: dict | None = None) -> M:
    """Validate a JSON object against a schema; 422 with every field's problem."""
    try:
        return model.model_validate(json_body() if data is None else data)
    except ValidationError as error:
        raise ValidationFailed("The request has invalid values.", details=validation_details(error)) from None


def page_args(default_per_page: int = 50) -> tuple[int, int]:
    """`page` and `per_page` from the query string (per_page at most 500)."""
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", default_per_page))
    except ValueError:
        raise ValidationFailed("page and per_page must be whole numbers.",
                               details={"page": "integer", "per_page": "integer"}) from None
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
        raise ValidationFailed(f"page ≥ 1 and 1 ≤ per_page ≤ {MAX_PER_PAGE}.",
                               details={"page": page, "per_page": per_page})
    return page, per_page


def paginated(items: list, page: int, per_page: int, total: int) -> dict:
    return {"items": items, "page": page, "per_page": per_page, "total": total}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
