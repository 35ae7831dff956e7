"""Messages that leave Tocsin: the outbox, its dispatcher and the channels (Slack, SMS, email, sandbox)."""
