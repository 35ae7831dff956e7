"""Customer broadcasts: compose, schedule, the audience, templates and wording; the outbox sends them."""
