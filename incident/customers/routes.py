"""JSON API for customers: bulk upsert, list, read, edit preferences and opt-outs (/api/v1)."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from pydantic import ValidationError

from ..api import json_body, page_args, paginated, parse, validation_details
from ..auth.access import api_auth
from ..errors import TooLarge, ValidationFailed
from ..security import body_limit
from ..validation import normalize_email
from . import service
from .schemas import MAX_BATCH, CustomerIn, CustomerPatch, customer_to_dict
from .upsert import upsert_customers

bp = Blueprint("api_customers", __name__, url_prefix="/api/v1")


def parse_batch(body: dict) -> list[CustomerIn]:
    """One customer or {"customers": [...]}: all valid, or 422 naming each bad item and why."""
    batch = body.get("customers") if set(body) == {"customers"} else [body]
    if not isinstance(batch, list) or not batch:
        raise ValidationFailed("Send one customer, or {\"customers\": [...]} with at least one.",
                               details={"customers": "a non-empty list"})
    if len(batch) > MAX_BATCH:
        raise TooLarge(f"At most {MAX_BATCH} customers per request; this one has {len(batch)}.",
                       details={"max": MAX_BATCH, "got": len(batch)})
    items, problems = [], []
    for index, raw in enumerate(batch):
        try:
            items.append(CustomerIn.model_validate(raw))
        except ValidationError as error:
            problems += [{"index": index, "field": field, "message": message}
                         for field, message in validation_details(error).items()]
    if problems:
        raise ValidationFailed(f"{len({p['index'] for p in problems})} of {len(batch)} customers are invalid; "
                               "nothing was written.", details={"items": problems[:200], "invalid": len(problems)})
    return items


@bp.post("/customers")
@body_limit("MAX_BATCH_BODY_BYTES")  # up to 10,000 customers
@api_auth("agent")
def upsert():
    items = parse_batch(json_body())
    return jsonify(upsert_customers(items).as_dict())


@bp.get("/customers")
@api_auth("viewer")
def list_customers():
    page, per_page = page_args()
    email = request.args.get("email") or None
    if email:
        try:
            email = normalize_email(email)
        except ValueError as error:
            raise ValidationFailed(f"Invalid email filter: {error}", details={"email": str(error)}) from None
    rows, total = service.list_customers(segment=(request.args.get("segment") or "").strip().lower() or None,
                                         service=(request.args.get("service") or "").strip().lower() or None,
                                         email=email, page=page, per_page=per_page)
    return jsonify(paginated([customer_to_dict(c) for c in rows], page, per_page, total))


@bp.get("/customers/<int:customer_id>")
@api_auth("viewer")
def get_customer(customer_id):
    return jsonify(customer_to_dict(service.get_customer_or_raise(customer_id)))


@bp.patch("/customers/<int:customer_id>")
@api_auth("agent")
def edit_customer(customer_id):
    changes = parse(CustomerPatch).changes()
    return jsonify(customer_to_dict(service.update_customer(g.user, customer_id, changes)))
