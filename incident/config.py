"""Configuration from the environment, as documented in the README and API.md."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_secret_key(instance_path: str) -> str:
    """SECRET_KEY from the environment, else one generated once into instance/secret_key."""
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        return from_env
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def from_environment(instance_path: str) -> dict:
    """The settings read from the environment (defaults as documented)."""
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "5000")
    database_url = os.environ.get("DATABASE_URL") or (
        "sqlite:///" + os.path.join(instance_path, "tocsin.sqlite3")
    )
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    passthrough = {key: os.environ[key] for key in PROVIDER_KEYS if os.environ.get(key)}
    return {
        **passthrough,
        **{name: _env_count(name, default) for name, default in LIMITS.items()},
        "SQLALCHEMY_DATABASE_URI": database_url,
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", f"http://{host}:{port}").rstrip("/"),
        "SCHEDULER_TICK_SECONDS": float(os.environ.get("SCHEDULER_TICK_SECONDS", "1")),
        "SESSION_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE"),
        "RUNBOOKS_DIR": os.environ.get(
            "RUNBOOKS_DIR", str(Path(__file__).resolve().parent.parent / "runbooks")
        ),
    }


# Settings read as they are: providers (unset: that channel goes to the sandbox), tuning knobs.
PROVIDER_KEYS = (
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL",
    "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_API_URL",
    "SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_STARTTLS", "MAIL_FROM",
    "CHANNEL_RATE_LIMITS", "ESCALATION_TRIGGER_WORDS", "SLACK_INCIDENT_CHANNELS",
    "DISPATCH_THREADS", "DISPATCH_LEASE_SECONDS",
    "STATUS_PAGE_NAME", "STATUS_PAGE_ID", "STATUS_SNAPSHOT_CHECK_SECONDS",
    "STATUS_SIGNUPS_PER_ADDRESS_PER_HOUR", "STATUS_SIGNUPS_PER_CLIENT_PER_HOUR",
    "FLOOD_WINDOW_MINUTES", "FLOOD_BASELINE_HOURS", "FLOOD_FACTOR", "FLOOD_MIN_TICKETS", "FLOOD_MIN_BASELINE_PER_HOUR",
    "LOGIN_FAILURES_PER_ACCOUNT", "LOGIN_FAILURES_PER_CLIENT", "LOGIN_FAILURE_WINDOW_MINUTES",
)

DEFAULTS = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 12 * 3600,
    "WTF_CSRF_TIME_LIMIT": None,  # a token lives as long as the session that holds it
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    "JSON_SORT_KEYS": False,
}


# Request limits and proxies (security.py), SMS sign-up limits (status/subscriptions.py): whole numbers ≥ 0.
LIMITS = {
    "MAX_BODY_BYTES": 256 * 1024,                 # a request body, on most routes
    "MAX_BATCH_BODY_BYTES": 32 * 1024 * 1024,     # ticket and customer batches, links by id
    "MAX_UPLOAD_BODY_BYTES": 64 * 1024 * 1024,    # CSV uploads
    "TRUSTED_PROXIES": 0,                         # proxy hops whose X-Forwarded-For / -Proto are believed
    "HSTS_MAX_AGE": 365 * 24 * 3600,              # Strict-Transport-Security over HTTPS; 0: none
    "STATUS_SMS_SIGNUPS_PER_PREFIX_PER_DAY": 20,  # per first 6 digits of the number (country code included)
    "STATUS_SMS_SIGNUPS_PER_DAY": 500,            # all SMS sign-ups together
}


def _env_count(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ValueError(f"{name} must be a whole number ≥ 0, not {raw!r}")
    return int(raw)
