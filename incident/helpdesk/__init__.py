"""The helpdesk in the loop: tickets in from Zendesk, links, unlinks and solves out to it (README: Helpdesk)."""
