"""Outgoing webhooks: endpoints staff register, events signed per the Standard Webhooks
specification, queued through the outbox (purpose `webhook`) and sent by the worker with retries."""
