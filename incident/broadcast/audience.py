"""Who hears a broadcast and on which channel: pure rules, no database.

A customer gets one message per send, on the first of their preferred channels that the
broadcast allows, that they have an address for and have not opted out of. The channels
after it are the fall-backs, tried in order if it fails for good. SMS carries milestones
only (apologies, resolutions, sends marked important) unless the send is one.
"""
from __future__ import annotations

from dataclasses import dataclass

# for customers who never said what they prefer: a reply on the ticket they wrote first, when the broadcast allows it
DEFAULT_ORDER = ("ticket", "email", "sms", "slack")
MILESTONES = ("apology", "resolution")

SKIP_OPTED_OUT = "opted out of every channel this broadcast uses"
SKIP_NO_ADDRESS = "no address on the channels this broadcast uses"
SKIP_SMS_MILESTONES = "SMS carries milestones only (apologies, resolutions, important updates)"


@dataclass(frozen=True)
class Choice:
    channel: str | None          # None: skipped
    fallback: tuple[str, ...] = ()
    reason: str = ""             # why skipped


def sms_allowed(kind: str, important: bool) -> bool:
    return kind in MILESTONES or important


def preference(channels: list | None, addresses: dict[str, str | None]) -> list[str]:
    """The customer's order, or the default order over the addresses they have."""
    if channels:
        return [c for c in channels if c in DEFAULT_ORDER]
    return [c for c in DEFAULT_ORDER if addresses.get(c)]


def choose(channels: list | None, opted_out: list | None, addresses: dict[str, str | None], *,
           allowed: list[str], kind: str, important: bool) -> Choice:
    """The channel a customer is reached on for one send, its fall-backs, or why they are skipped."""
    order = preference(channels, addresses)
    usable_everywhere = [c for c in order if c in allowed and addresses.get(c)]
    if not usable_everywhere:
        return Choice(None, reason=SKIP_NO_ADDRESS)
    not_opted = [c for c in usable_everywhere if c not in (opted_out or ())]
    if not not_opted:
        return Choice(None, reason=SKIP_OPTED_OUT)
    if not sms_allowed(kind, important):
        without_sms = [c for c in not_opted if c != "sms"]
        if not without_sms:
            return Choice(None, reason=SKIP_SMS_MILESTONES)
        not_opted = without_sms
    return Choice(not_opted[0], tuple(not_opted[1:]))
