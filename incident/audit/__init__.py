"""The audit trail of configuration: who changed which policy, rotation, template, component, staff
member, token or webhook, when, and how it read before and after.

Services call `record(actor, kind, target, before, after)` in the transaction of the change, so the
entry lands (or rolls back) with it.
"""
from __future__ import annotations

from .service import record, snapshot

__all__ = ["record", "snapshot"]
