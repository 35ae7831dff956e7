"""What a broadcast's state allows, decided once: the services enforce it, the pages show it.

Pure functions of a broadcast's status, its next unprepared send (if any) and its delivery
counts, so the page's buttons and the service's refusals cannot disagree.
"""
from __future__ import annotations

from datetime import datetime

from ..vocabulary import BroadcastStatus

FINAL = (BroadcastStatus.DONE, BroadcastStatus.CANCELLED)


def editable(status: str, next_send_due: datetime | None) -> bool:
    """Something is left to change: a send not prepared yet, on a broadcast still going."""
    return status not in FINAL and next_send_due is not None


def cancellable(status: str, next_send_due: datetime | None, queued: int) -> bool:
    """Something is left to stop: a send not prepared yet, or messages still queued."""
    return status != BroadcastStatus.CANCELLED and (next_send_due is not None or queued > 0)


def shown_state(status: str, queued: int) -> str:
    """What staff are told: rows still going out are 'sending', whatever the schedule says; a
    recurring broadcast between sends is 'repeating'."""
    if status in (BroadcastStatus.DONE, BroadcastStatus.SENDING) and queued:
        return "sending"
    return "repeating" if status == BroadcastStatus.SENDING else status
