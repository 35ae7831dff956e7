"""Finding customers for the staff pages: one search box (name, email, phone, external id) with
segment and service filters, a page at a time in id order (keyset paging: no OFFSET to walk past,
no COUNT over 100,000 rows)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..catalog import Service
from ..extensions import db
from ..validation import normalize_phone
from .models import Customer, customer_services

MAX_PER_PAGE = 200


@dataclass(frozen=True)
class CustomerSearch:
    """What staff typed: `text` matches a name (any part), an email (any part; from its start when it
    has an '@'), a phone number (in any form phonenumbers reads) or an external id (exactly)."""

    text: str = ""
    segment: str = ""
    service: str = ""

    @property
    def narrows(self) -> bool:
        return bool(self.text or self.segment or self.service)


def _like(value: str) -> str:
    """`value` for a LIKE pattern, its wildcards taken literally (escape character '\\')."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_matches(text: str):
    lowered = text.lower()
    if "@" in text:
        return Customer.email.like(_like(lowered) + "%", escape="\\")
    matches = [Customer.external_id == text, Customer.name.ilike(f"%{_like(text)}%", escape="\\"),
               Customer.email.like(f"%{_like(lowered)}%", escape="\\")]
    try:
        matches.append(Customer.phone == normalize_phone(text))
    except ValueError:
        pass  # not a phone number: the other fields only
    return or_(*matches)


def search_customers(search: CustomerSearch, *, after: int = 0,
                     per_page: int = 50) -> tuple[list[Customer], int | None]:
    """A page of the customers that match, in id order after id `after`; and the id the next page
    starts after (None on the last page)."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    query = select(Customer).where(Customer.id > after)
    if search.text:
        query = query.where(_text_matches(search.text))
    if search.segment:
        query = query.where(Customer.segment == search.segment.lower())
    if search.service:
        query = query.where(Customer.id.in_(
            select(customer_services.c.customer_id).join(Service, Service.id == customer_services.c.service_id)
            .where(Service.name == search.service.lower())))
    rows = list(db.session.scalars(query.options(selectinload(Customer.services))
                                   .order_by(Customer.id).limit(per_page + 1)))
    more = len(rows) > per_page
    rows = rows[:per_page]
    return rows, (rows[-1].id if more else None)


def list_segments() -> list[str]:
    """Every segment some customer is in (for the search form)."""
    return list(db.session.scalars(select(Customer.segment).where(Customer.segment.is_not(None))
                                   .distinct().order_by(Customer.segment).limit(500)))
