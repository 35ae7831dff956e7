"""Configuration: read from the environment once, at start, typed and checked (README: Configuration).

`Settings` is the whole list: a setting is one line there, and the app config holds the same
names with the values already parsed (numbers, flags, lists, the rate map), so no call site
converts anything. A bad value stops the process at start with a `ConfigError` that names the
variable and what it expects, instead of failing in the worker at 03:00.
"""
from __future__ import annotations

import json
import math
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from .auth.policy import PERMISSION_ROLES
from .locales import InvalidLocale, parse_tag
from .vocabulary import Channel, Severity

Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
SecondsOrZero = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(gt=0)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Url = Annotated[str, Field(pattern=r"^https?://\S+$")]

# sends per second, the providers' usual limits
DEFAULT_RATES = {Channel.SMS.value: 10.0, Channel.EMAIL.value: 50.0, Channel.SLACK.value: 1.0,
                 Channel.TICKET.value: 1.0}   # and ticket replies within ZENDESK_REQUESTS_PER_MINUTE
SEVERITIES = tuple(s.value for s in Severity)
RUNBOOKS = str(Path(__file__).resolve().parent.parent / "runbooks")


class ConfigError(Exception):
    """One or more settings have a value Tocsin cannot use; each problem names its variable."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class LabelMatcher:
    """`name=value`, `name!=value`, `name=~regex` or `name!~regex` (the regex matches the whole value)."""

    name: str
    op: str
    value: str

    def __str__(self) -> str:
        plain = self.value and not set(self.value) & set(',;:" ')
        return f"{self.name}{self.op}{self.value if plain else json.dumps(self.value)}"


@dataclass(frozen=True)
class AlertRule:
    """Alerts whose labels match every matcher declare an incident of `severity`, paging `level` (if any)."""

    matchers: tuple[LabelMatcher, ...]
    severity: str
    level: str | None = None

    def __str__(self) -> str:
        return ",".join(map(str, self.matchers)) + f":{self.severity}" + (f":{self.level}" if self.level else "")


_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^,;:"]*?)\s*(?=[,:;]|$)')
_RULE_TAIL = re.compile(r"\s*:\s*(SEV[1-4])\s*(?::\s*([A-Za-z0-9][A-Za-z0-9_.-]{0,99})\s*)?(?:;|$)", re.IGNORECASE)
_RULES_EXPECTED = ("expected rules such as severity=critical:SEV2:engineering separated by ';' "
                   "(matchers name=value, name!=value, name=~regex, name!~regex joined by ','; then a severity; "
                   "then, optionally, an escalation level), or none")


def parse_alert_rules(raw: str) -> tuple[AlertRule, ...]:
    """`severity=critical,team=db:SEV1:engineering; severity=warning:SEV3` → the rules, in order."""
    text = raw.strip()
    if text.lower() in ("", "none"):
        return ()
    rules, at = [], 0
    while at < len(text):
        matchers = []
        while True:
            found = _MATCHER.match(text, at)
            if found is None:
                raise ValueError(_RULES_EXPECTED)
            matchers.append(_matcher(*found.groups()))
            at = found.end()
            if text[at:at + 1] != ",":
                break
            at += 1
        tail = _RULE_TAIL.match(text, at)
        if tail is None:
            raise ValueError(_RULES_EXPECTED)
        rules.append(AlertRule(tuple(matchers), tail.group(1).upper(), tail.group(2)))
        at = tail.end()
        while at < len(text) and text[at] in " ;":
            at += 1
    return tuple(rules)


def _matcher(name: str, op: str, value: str) -> LabelMatcher:
    if value.startswith('"'):
        value = json.loads(value)
    if "~" in op:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"{name}{op}{value}: not a regular expression ({error})") from None
    return LabelMatcher(name, op, value)


class Settings(BaseSettings):
    """Every environment setting, its type and its default (unset or empty: the default)."""

    model_config = SettingsConfigDict(case_sensitive=True, env_ignore_empty=True, enable_decoding=False,
                                      extra="ignore")

    DATABASE_URL: str | None = None               # None: SQLite file in instance/
    SECRET_KEY: SecretStr | None = None           # None: generated once into instance/secret_key
    HOST: str = "127.0.0.1"
    PORT: int = Field(5000, ge=1, le=65535)
    PUBLIC_BASE_URL: Url | None = None            # None: http://HOST:PORT
    SCHEDULER_TICK_SECONDS: Seconds = 1.0
    SESSION_COOKIE_SECURE: bool = False
    LOGIN_FAILURES_PER_ACCOUNT: Count = 5          # failed logins per account in the window, then 429
    LOGIN_FAILURES_PER_CLIENT: Count = 20          # failed logins per client address in the window
    LOGIN_FAILURE_WINDOW_MINUTES: Positive = 15.0

    MAX_BODY_BYTES: Count = 256 * 1024             # a request body, on most routes
    MAX_BATCH_BODY_BYTES: Count = 32 * 1024 * 1024  # ticket and customer batches, links by id
    MAX_UPLOAD_BODY_BYTES: Count = 64 * 1024 * 1024  # CSV uploads
    TRUSTED_PROXIES: int = Field(0, ge=0, le=10)   # proxy hops whose X-Forwarded-For / -Proto are believed
    HSTS_MAX_AGE: int = Field(365 * 24 * 3600, ge=0)  # Strict-Transport-Security over HTTPS; 0: none
    RUNBOOKS_DIR: str = RUNBOOKS
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    LOG_FORMAT: Literal["text", "json"] = "text"

    FLOOD_WINDOW_MINUTES: Count = 15
    FLOOD_BASELINE_HOURS: Count = 24
    FLOOD_FACTOR: Positive = 5.0
    FLOOD_MIN_TICKETS: Count = 20
    FLOOD_MIN_BASELINE_PER_HOUR: Positive = 1.0

    SLACK_BOT_TOKEN: SecretStr | None = None
    SLACK_SIGNING_SECRET: SecretStr | None = None
    SLACK_API_URL: Url | None = None              # None: https://slack.com/api/
    TWILIO_ACCOUNT_SID: str | None = None
    TWILIO_AUTH_TOKEN: SecretStr | None = None
    TWILIO_FROM_NUMBER: str | None = None
    TWILIO_MESSAGING_SERVICE_SID: str | None = None
    TWILIO_API_URL: Url | None = None             # None: https://api.twilio.com
    TWILIO_VOICE_FROM_NUMBER: str | None = None   # who pages by phone call; None: TWILIO_FROM_NUMBER
    VOICE_FALLBACK_SECONDS: Seconds = 120.0       # channels after `voice` go this long after the call at the latest
    SMTP_HOST: str | None = None
    SMTP_PORT: int | None = Field(None, ge=1, le=65535)   # None: 587 with STARTTLS, else 25
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: SecretStr | None = None
    SMTP_STARTTLS: bool = False
    MAIL_FROM: str | None = None                  # None: tocsin@localhost

    ZENDESK_URL: Url | None = None                # None: the helpdesk connector is off (sandbox)
    ZENDESK_EMAIL: str | None = None
    ZENDESK_API_TOKEN: SecretStr | None = None
    METRICS_TOKEN: SecretStr | None = None           # bearer token for /metrics; unset: loopback clients only
    ZENDESK_WEBHOOK_SECRET: SecretStr | None = None
    ZENDESK_REQUESTS_PER_MINUTE: Count = 200       # all calls of all workers together (Zendesk's lowest plan)
    ZENDESK_BRAND_IDS: frozenset[int] = frozenset()  # tickets of other brands are refused; empty: any brand
    HELPDESK_EXPORT_SECONDS: Seconds = 60.0        # how often the worker follows the incremental export

    CHANNEL_RATE_LIMITS: dict[str, Positive] = Field(default_factory=lambda: dict(DEFAULT_RATES))
    DISPATCH_THREADS: Count = 32
    DISPATCH_LEASE_SECONDS: Seconds = 300.0
    SLACK_INCIDENT_CHANNELS: frozenset[str] = frozenset({"SEV1", "SEV2"})
    SLACK_ARCHIVE_AFTER_HOURS: SecondsOrZero = 24.0  # an incident's channel is archived this long after resolving; 0: never
    ESCALATION_TRIGGER_WORDS: list[str] = ["data loss", "security breach", "data breach"]
    PRIVATE_TRIGGER_WORDS: list[str] = ["security breach", "data breach"]  # of those, the ones that make it private
    REVIEW_SEVERITIES: frozenset[str] = frozenset({"SEV1", "SEV2"})  # resolving one of these opens a review
    REVIEW_REMINDER_DAYS: Positive = 3.0           # the commander is reminded of a review still a draft this long after

    WEBHOOKS_ALLOW_PRIVATE_TARGETS: bool = False   # outgoing webhooks to loopback / private / link-local addresses

    STATUS_PAGE_NAME: str = "Tocsin"
    STATUS_PAGE_ID: str = "tocsin"
    STATUS_SNAPSHOT_CHECK_SECONDS: SecondsOrZero = 1.0
    STATUS_SIGNUPS_PER_ADDRESS_PER_HOUR: Count = 3
    STATUS_SIGNUPS_PER_CLIENT_PER_HOUR: Count = 20
    STATUS_SMS_SIGNUPS_PER_PREFIX_PER_DAY: Count = 20  # per first 6 digits of the number (country code included)
    STATUS_SMS_SIGNUPS_PER_DAY: Count = 500        # all SMS sign-ups together
    STATUS_CACHE_CONTROL: str = "public, max-age=10, stale-while-revalidate=30"

    # Single sign-on (OpenID Connect): all three of issuer, client id and secret, or none.
    OIDC_ISSUER: Url | None = None
    OIDC_CLIENT_ID: str | None = None
    OIDC_CLIENT_SECRET: SecretStr | None = None
    OIDC_ALLOWED_DOMAINS: frozenset[str] = frozenset()   # email domains whose people may sign in
    OIDC_ROLE_CLAIM: str = "groups"                 # the ID token claim holding groups (a.b for nested)
    OIDC_ROLE_MAP: dict[str, str] = Field(default_factory=dict)  # group -> permission role
    PASSWORD_LOGIN: bool = True                     # off: the login page only offers single sign-on
    ALERT_SERVICE_LABEL: str = Field("service", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # the label naming the service
    ALERT_RULES: tuple[AlertRule, ...] = ()       # e.g. severity=critical:SEV2:engineering; first match wins
    MAX_ALERT_BODY_BYTES: Count = 2 * 1024 * 1024  # one Alertmanager or Grafana notification
    DEFAULT_LOCALE: str = "en"                    # a reader's chain ends here (then English): de-CH -> de -> this
    LOCALE_DIRS: list[str] = []                   # more language files (<tag>.toml, templates), before the shipped ones

    @model_validator(mode="before")
    @classmethod
    def _blanks(cls, data: Any) -> Any:
        """Surrounding blanks never matter, and a blank (or None) value is the default."""
        if not isinstance(data, dict):
            return data
        stripped = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
        return {k: v for k, v in stripped.items() if v is not None and v != ""}

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            make_url(sqlalchemy_url(value)).get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError):
            raise ValueError("expected a database URL such as postgresql://user@host/tocsin") from None
        return value

    @field_validator("RUNBOOKS_DIR")
    @classmethod
    def _runbooks_dir(cls, value: str) -> str:
        if not Path(value).is_dir():
            raise ValueError("expected an existing directory")
        return value

    @field_validator("DEFAULT_LOCALE")
    @classmethod
    def _default_locale(cls, value: str) -> str:
        try:
            return parse_tag(value)
        except InvalidLocale as error:
            raise ValueError(f"expected a BCP 47 language tag such as en, it or de-CH ({error})") from None

    @field_validator("LOCALE_DIRS", mode="before")
    @classmethod
    def _locale_dirs(cls, value: Any) -> Any:
        dirs = [d.strip() for d in (value.split(os.pathsep) if isinstance(value, str) else _items(value)) if d.strip()]
        missing = [d for d in dirs if not Path(d).is_dir()]
        if missing:
            raise ValueError(f"expected existing directories separated by {os.pathsep!r}, not {', '.join(missing)}")
        return dirs

    @field_validator("CHANNEL_RATE_LIMITS", mode="before")
    @classmethod
    def _rates(cls, value: Any) -> Any:
        return parse_rates(value) if isinstance(value, str) or value is None else {**DEFAULT_RATES, **value}

    @field_validator("SLACK_INCIDENT_CHANNELS", "REVIEW_SEVERITIES", mode="before")
    @classmethod
    def _severities(cls, value: Any) -> Any:
        names = {s.strip().upper() for s in _items(value) if s.strip()} - {"NONE"}
        if names - set(SEVERITIES):
            raise ValueError(f"expected severities among {', '.join(SEVERITIES)} separated by commas, or none")
        return frozenset(names)

    @field_validator("SLACK_ARCHIVE_AFTER_HOURS", mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        return 0 if isinstance(value, str) and value.strip().lower() in ("off", "none", "never") else value

    @field_validator("ESCALATION_TRIGGER_WORDS", "PRIVATE_TRIGGER_WORDS", mode="before")
    @classmethod
    def _words(cls, value: Any) -> Any:
        words = [w.strip().lower() for w in _items(value) if w.strip()]
        return [] if words == ["none"] else words

    @field_validator("ALERT_RULES", mode="before")
    @classmethod
    def _alert_rules(cls, value: Any) -> Any:
        return parse_alert_rules(value) if isinstance(value, str) else value

    @field_validator("ZENDESK_BRAND_IDS", mode="before")
    @classmethod
    def _brands(cls, value: Any) -> Any:
        try:
            return frozenset(int(item) for item in _items(value) if str(item).strip())
        except ValueError:
            raise ValueError("expected Zendesk brand ids (numbers) separated by commas") from None

    @field_validator("OIDC_ALLOWED_DOMAINS", mode="before")
    @classmethod
    def _domains(cls, value: Any) -> Any:
        domains = {d.strip().lower().lstrip("@") for d in _items(value) if d.strip()}
        if any("@" in d or "." not in d or " " in d for d in domains):
            raise ValueError("expected email domains such as example.com separated by commas")
        return frozenset(domains)

    @field_validator("OIDC_ROLE_MAP", mode="before")
    @classmethod
    def _role_map(cls, value: Any) -> Any:
        return parse_role_map(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _oidc(self) -> Settings:
        trio = {"OIDC_ISSUER": self.OIDC_ISSUER, "OIDC_CLIENT_ID": self.OIDC_CLIENT_ID,
                "OIDC_CLIENT_SECRET": self.OIDC_CLIENT_SECRET}
        missing = [name for name, value in trio.items() if not value]
        rules = {"OIDC_ALLOWED_DOMAINS", "OIDC_ROLE_CLAIM", "OIDC_ROLE_MAP"} & self.model_fields_set
        if missing and (len(missing) < 3 or rules):
            given = sorted(({*trio} - {*missing}) | rules)
            raise ValueError(f"single sign-on is half configured: {', '.join(given)} set but "
                             f"{', '.join(missing)} missing (set all of OIDC_ISSUER, OIDC_CLIENT_ID, "
                             f"OIDC_CLIENT_SECRET, or none)")
        if not missing and not (self.OIDC_ALLOWED_DOMAINS or self.OIDC_ROLE_MAP):
            raise ValueError("single sign-on needs OIDC_ALLOWED_DOMAINS or OIDC_ROLE_MAP to say who may sign in")
        if missing and not self.PASSWORD_LOGIN:
            raise ValueError("PASSWORD_LOGIN=off needs single sign-on (OIDC_ISSUER, OIDC_CLIENT_ID, "
                             "OIDC_CLIENT_SECRET): otherwise nobody could log in")
        if self.OIDC_ISSUER:
            self.OIDC_ISSUER = self.OIDC_ISSUER.rstrip("/")
        return self

    @model_validator(mode="after")
    def _zendesk(self) -> Settings:
        if self.ZENDESK_URL and not (self.ZENDESK_EMAIL and self.ZENDESK_API_TOKEN):
            raise ValueError("ZENDESK_URL needs ZENDESK_EMAIL and ZENDESK_API_TOKEN as well")
        if self.ZENDESK_URL:
            self.ZENDESK_URL = self.ZENDESK_URL.rstrip("/")
        return self

    @model_validator(mode="after")
    def _base_url(self) -> Settings:
        url = self.PUBLIC_BASE_URL or f"http://{self.HOST}:{self.PORT}"
        self.PUBLIC_BASE_URL = url.rstrip("/")
        return self

    def to_config(self, instance_path: str) -> dict[str, Any]:
        """The app config: the same names, secrets unwrapped, the database URL as SQLAlchemy takes it."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        config = {name: v.get_secret_value() if isinstance(v, SecretStr) else v for name, v in values.items()}
        config["SQLALCHEMY_DATABASE_URI"] = sqlalchemy_url(
            config.pop("DATABASE_URL") or "sqlite:///" + os.path.join(instance_path, "tocsin.sqlite3"))
        config["SECRET_KEY"] = config["SECRET_KEY"] or load_secret_key(instance_path)
        return config

    def secret_values(self) -> list[str]:
        """What must never reach a log line: tokens, passwords, the database password."""
        found = [v.get_secret_value() for v in (getattr(self, n) for n in type(self).model_fields)
                 if isinstance(v, SecretStr)]
        if self.DATABASE_URL and make_url(self.DATABASE_URL).password:
            found.append(str(make_url(self.DATABASE_URL).password))
        return found


# never echoed in an error: the SecretStr settings, and the database URL (it may hold a password)
SECRETS = frozenset({"DATABASE_URL"} | {name for name, field in Settings.model_fields.items()
                                        if SecretStr in get_args(field.annotation)})


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """The settings from the environment, `overrides` (raw or typed values) taking precedence."""
    values = {key: value for key, value in (overrides or {}).items() if key in Settings.model_fields}
    try:
        return Settings(**values)
    except ValidationError as error:
        raise ConfigError([_problem(e) for e in error.errors(include_url=False)]) from None


def parse_rates(raw: str | None) -> dict[str, float]:
    """`sms=10,email=50,slack=1` → {"sms": 10.0, ...}; missing channels keep their default."""
    rates = dict(DEFAULT_RATES)
    for part in (raw or "").split(","):
        name, _, value = part.partition("=")
        name = name.strip().lower()
        if not name:
            continue
        try:
            rate = float(value)
        except ValueError:
            rate = math.nan
        if name not in DEFAULT_RATES or not 0 < rate < math.inf:
            raise ValueError(f"expected channel=number pairs such as sms=10,email=50 "
                             f"(channels: {', '.join(DEFAULT_RATES)}; numbers above 0)")
        rates[name] = rate
    return rates


def parse_role_map(raw: str) -> dict[str, str]:
    """`oncall=engineer,support-leads=lead` → {"oncall": "engineer", ...}: group → permission role."""
    mapping = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        group, equals, role = part.rpartition("=")
        group, role = group.strip(), role.strip().lower()
        if not equals or not group or role not in PERMISSION_ROLES:
            raise ValueError(f"expected group=role pairs such as oncall=engineer,support-leads=lead "
                             f"(roles: {', '.join(PERMISSION_ROLES)})")
        mapping[group] = role
    return mapping


def sqlalchemy_url(url: str) -> str:
    """postgres:// and postgresql:// mean psycopg 3, the driver Tocsin ships with."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_secret_key(instance_path: str) -> str:
    """The key generated once into instance/secret_key (used when SECRET_KEY is unset)."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def _items(value: Any) -> list[str]:
    """A comma-separated string or a list of strings, as a list."""
    if isinstance(value, str):
        return value.split(",")
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(v) for v in value]
    raise ValueError("expected a comma-separated list")


_EXPECTED = {
    "float_parsing": "expected a number", "float_type": "expected a number",
    "int_parsing": "expected a whole number", "int_type": "expected a whole number",
    "int_from_float": "expected a whole number", "finite_number": "expected a finite number",
    "bool_parsing": "expected on or off (1/0, true/false, yes/no, on/off)",
    "bool_type": "expected on or off (1/0, true/false, yes/no, on/off)",
    "string_pattern_mismatch": "expected an http:// or https:// URL",
    "dict_type": "expected channel=number pairs such as sms=10,email=50",
}


def _problem(error: Mapping[str, Any]) -> str:
    """`NAME: expected …, got 'value'` — the value left out for secrets."""
    name = ".".join(str(part) for part in error["loc"][:1]) or "configuration"
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "value_error":
        expected = str(ctx.get("error", error["msg"]))
    elif kind in ("greater_than", "greater_than_equal", "less_than_equal"):
        bound = ctx.get("gt", ctx.get("ge", ctx.get("le")))
        word = {"greater_than": "above", "greater_than_equal": "at least", "less_than_equal": "at most"}[kind]
        expected = f"expected a number {word} {bound:g}"
    elif kind == "literal_error":
        expected = f"expected one of {ctx.get('expected')}"
    else:
        expected = _EXPECTED.get(kind, "expected " + error["msg"][0].lower() + error["msg"][1:])
    if name in SECRETS or name not in Settings.model_fields:
        return f"{name}: {expected}"
    return f"{name}: {expected}, got {_shown(error.get('input'))}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


DEFAULTS = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 12 * 3600,
    "WTF_CSRF_TIME_LIMIT": None,  # a token lives as long as the session that holds it
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    "JSON_SORT_KEYS": False,
}
