"""Incidents: declare, edit, move the status along, the timeline and the incident room in Slack."""
