"""gunicorn reads this file from the working directory (`gunicorn wsgi:app`, the Procfile, `make run`).

The configuration is checked once, in the master, before any worker boots: a bad value stops
gunicorn with one line naming the variable, instead of each worker failing on its own.
"""
import sys

from incident.config import ConfigError, load_settings


def on_starting(server):
    try:
        load_settings()
    except ConfigError as error:
        sys.exit(f"Configuration error: {error}")
