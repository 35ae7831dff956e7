"""What the tickets package tells the features above it, without importing them."""
from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sent with the incident (and `link_action_id`) after tickets were linked to it, before the commit;
# escalation's trigger words listen
tickets_linked = _signals.signal("tickets-linked")

# sent with the incident, `ticket_ids` and a `key` unique to the action, before the commit: tickets
# taken off the incident by an unlink, and tickets moved onto it from a merged duplicate
tickets_unlinked = _signals.signal("tickets-unlinked")
tickets_moved = _signals.signal("tickets-moved")

# sent after an ingest inserted new tickets, before the commit, with `rows` (the new tickets as stored:
# source, external_id, subject, description, tags and services as ' a b ') and `ids` ({(source, external
# id): ticket id}); a receiver answers with a list of what it flagged, which the ingest answer carries
# (known issues answer [{"external_id", "source", "incident_id"}])
tickets_arrived = _signals.signal("tickets-arrived")
