"""Ticket floods: ingest, bulk-link to the parent incident, link rules, flood detection."""
