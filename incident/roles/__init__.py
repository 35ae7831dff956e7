"""Crisis roles on an incident: assignment, hand-over, relief, and the runbook checklists."""
