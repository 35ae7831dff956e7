"""Customers: the people and companies Tocsin keeps informed (ticket requesters become customers)."""
