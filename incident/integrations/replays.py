"""Each provider request is handled once: its key is written in the transaction of the use case it
triggers, so a retry or a replay of the same request changes nothing (Slack retries, Twilio replays)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from ..extensions import Model, db


@dataclass(frozen=True)
class SeenRequests:
    """The table of keys seen, and how to make its row for a key."""

    model: type[Model]
    row_for: Callable[[str], Model]

    def claim(self, key: str | None) -> bool:
        """Note this request in the open transaction; False when it was handled before."""
        if key is None:
            return True
        if db.session.get(self.model, key) is not None:
            return False
        db.session.add(self.row_for(key))
        try:
            db.session.flush()  # PostgreSQL: a concurrent twin waits here, then fails on the key
        except IntegrityError:
            db.session.rollback()
            return False
        return True

    def settle(self, key: str | None) -> None:
        """Commit the request's key, also when the use case committed nothing or retried without it."""
        if key is not None and db.session.get(self.model, key) is None:
            db.session.add(self.row_for(key))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
