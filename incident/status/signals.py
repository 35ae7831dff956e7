"""What the status package tells the features above it, without importing them.

Receivers run synchronously, in the sender's transaction.
"""
from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sent (sender: None) with `changes`, a list of (component id, incident id, new state), when what a
# published incident does to its components changes (history.record_states)
component_states_changed = _signals.signal("component-states-changed")
