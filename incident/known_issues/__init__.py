"""Known issues: an incident's customer-facing workaround and, for staff, its symptoms, cause and fix;
searchable entries afterwards, and new tickets that look like one flagged on arrival."""
