"""Reports: what a period's incidents say — how fast they were acknowledged and resolved, how
customers heard, where escalation breached, which tags and services brought the tickets."""
