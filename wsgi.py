"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
import sys

from incident import create_app
from incident.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # One short line, no traceback. Status 4 is gunicorn's "App failed to load": its master
    # stops at once instead of booting worker after worker; for anything else it is just non-zero.
    print(f"Configuration error: {error}", file=sys.stderr)
    sys.exit(4)
