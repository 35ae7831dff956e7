"""Escalation to engineering: policies, rotations, SLA clocks, paging and acknowledgement."""
