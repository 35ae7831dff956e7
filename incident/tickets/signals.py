"""What the tickets package tells the features above it, without importing them."""
from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sent with the incident (and `link_action_id`) after tickets were linked to it, before the commit;
# escalation's trigger words listen
tickets_linked = _signals.signal("tickets-linked")
