"""The public status page: components, incident impact, maintenance, the snapshot, subscriptions."""
