"""Test data: tickets as a helpdesk sends them."""
from __future__ import annotations


def ticket(n: int, **overrides) -> dict:
    body = {"external_id": f"ZD-{n}", "source": "zendesk", "subject": f"Cannot log in ({n})",
            "description": "The login page says 502.",
            "requester": {"name": f"Customer {n}", "email": f"customer{n}@example.com"},
            "tags": ["login", "eu"], "priority": "high", "created_at": "2026-11-22T09:14:00+00:00"}
    body.update(overrides)
    return body


def tickets(count: int, start: int = 1, **overrides) -> list[dict]:
    return [ticket(n, **overrides) for n in range(start, start + count)]
