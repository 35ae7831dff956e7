"""The outbox: delivery rows, the dispatcher, rate limits and the channels (Slack, SMS, email, sandbox).

Features write rows; the worker sends them. Nothing here imports a feature.
"""
