"""Staff accounts, permission roles, sessions and API tokens."""
