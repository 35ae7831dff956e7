"""What the incidents package tells the features above it, without importing them.

Receivers run synchronously, in the sender's transaction: what they write lands (or rolls back)
with the change. Features connect at import (`status.hooks`, `tickets.service`).
"""
from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sent with the incident's id after a flushed change the public page may show (title, severity,
# services, status, a public update, a merge)
incident_changed = _signals.signal("incident-changed")

# sent with the incident (and `actor`) when it is resolved, before the commit
incident_resolved = _signals.signal("incident-resolved")

# sent with the incident, the event's kind, its actor label and data, each time the timeline records
# an event (timeline.record), in the transaction of the change: outgoing webhooks listen
timeline_recorded = _signals.signal("timeline-recorded")

# sent with the update (and `incident`, `previous_status`) when a public update should reach the
# subscribers of what the incident affects (its `notify_subscribers`), after the update is flushed
subscribers_to_notify = _signals.signal("subscribers-to-notify")
