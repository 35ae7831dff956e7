"""The real Slack channel on the loopback stand-in, for this package's tests."""
from .slack_helpers import slack  # noqa: F401
