"""Purposes whose rows need more than `channel.send`: registered by the feature that owns them.

Most outbox rows are sent as they are. A few (opening an incident's Slack channel, posting into
it before its id is known) need a look-up before sending, another call than `send`, or a record
of what the provider answered. The feature that writes such rows registers its hooks here, so
the dispatcher knows nothing of incidents or Slack rooms.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .channels import Channel, RenderedMessage, SendResult


@dataclass(frozen=True)
class Purpose:
    """Hooks for one purpose; each is optional.

    prepare(rows): fill in what the rows need, in the dispatcher's transaction, before sending.
    send(channel, row, message): send one row instead of `channel.send` (runs in a thread: no database).
    on_sent(row, result): record a success, in the transaction that records the outcome.
    """

    prepare: Callable[[list[dict]], None] | None = None
    send: Callable[[Channel, dict, RenderedMessage], SendResult] | None = None
    on_sent: Callable[[dict, SendResult], None] | None = None
    own_dispatcher: bool = False   # sent by the feature's own job (paced its way), never by `dispatch_due`


_REGISTRY: dict[str, Purpose] = {}


def register_purpose(name: str, purpose: Purpose) -> None:
    """Say how rows of this purpose are sent (a second registration replaces the first)."""
    _REGISTRY[name] = purpose


def purpose_for(name: str) -> Purpose | None:
    """The hooks registered for this purpose, if any."""
    return _REGISTRY.get(name)


def own_dispatchers() -> tuple[str, ...]:
    """Purposes the general dispatcher leaves to their feature's own job."""
    return tuple(name for name, purpose in _REGISTRY.items() if purpose.own_dispatcher)
