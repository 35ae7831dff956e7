"""Customer message templates: the shipped wording, staff edits, rendering and preview.

Every (kind, channel, locale) has a subject (email and Slack) and a body. The shipped ones
are files in `templates/` (`apology.it.email.txt`, `apology.it.email.subject.txt`, …), and in
the `LOCALE_DIRS` before it; a staff edit is a `MessageTemplate` row that takes their place. A
language without a template falls back along its chain (`de-CH` → `de` → DEFAULT_LOCALE → `en`:
see `incident.locales`). Templates run in a sandbox (see `wording`).

The email body is written as plain text. It becomes the text part as it is, and the HTML
part escaped whole, paragraph by paragraph with its web addresses made links, inside a
fixed layout (`_layout.email.html`, autoescaped) whose footer carries the unsubscribe link.
The Slack body is mrkdwn; the subject becomes the header block, the status page a button.
SMS is one line (newlines in the template become spaces).

The context contract — a plain dict:

    incident         {"reference": "INC-42", "title", "status", "severity",
                      "services": ["login", …], "summary"}
    kind             "apology" | "status" | "resolution"
    message          the lead's own words, may be ""
    workaround       the known issue's workaround, when the broadcast asks for it; may be ""
    status_page_url  absolute URL, may be ""
    next_update_at   aware datetime, or None when no update is promised
    customer_name    NAME_SENTINEL when rendering for a send (default), a name in previews
    unsubscribe_url  UNSUBSCRIBE_SENTINEL when rendering for a send (default)
    locale           "en", "it", …
    now              optional aware datetime: a next update on another day shows its date

Templates also see, worked out here: `services` ("login, API e pagamenti"),
`service_count`, `status_label` (the status in words, in the locale), `next_update`
("10:30 UTC") and `next_update_by` ("by 10:30 UTC" / "entro le 10:30 UTC"), both "" when
no update is promised.

A send renders once per (channel, locale) with the sentinels in place of the customer's
name and unsubscribe link, stores that, and calls `personalize` per customer. The
sentinels are private-use characters: they escape to themselves in HTML and Slack, and are
stripped from every value given to a template, so no customer text can impersonate them.
"""
from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import overload

from markupsafe import escape
from sqlalchemy.exc import IntegrityError

from .. import audit, locales
from ..clock import utcnow
from ..errors import Conflict, ValidationFailed
from ..extensions import db
from ..outbox.channels import RenderedMessage
from ..vocabulary import AuditKind
from .gsm import sms_info
from .layouts import SUBJECT_MAX, email_message, slack_message
from .models import KINDS, MessageTemplate
from .template_render import TemplateFailed, render_source
from .wording import format_when, join_list, next_update_phrase, slack_env, slack_escape, status_label, text_env, tidy

logger = logging.getLogger(__name__)

CHANNELS = ("email", "sms", "slack")          # each with templates of its own (and the editor's)
SEND_CHANNELS = (*CHANNELS, "ticket")          # ticket: the email's words, as a reply on the customer's own ticket
WITH_SUBJECT = frozenset({"email", "slack"})
MAX_SOURCE = 20_000                # characters in an edited body
TEMPLATE_DIR = Path(__file__).with_name("templates")

NAME_SENTINEL = "\ue000name\ue001"
UNSUBSCRIBE_SENTINEL = "\ue000unsubscribe\ue001"
_PRIVATE = re.compile("[\ue000\ue001]")
# A missing name takes the comma and space before it along ("Hola, {{ customer_name }}:" reads "Hola:").
_NAME = re.compile(r",?[ \t]?" + re.escape(NAME_SENTINEL), re.IGNORECASE)

__all__ = ["KINDS", "CHANNELS", "SEND_CHANNELS", "languages", "NAME_SENTINEL", "UNSUBSCRIBE_SENTINEL", "render",
           "personalize", "preview", "sms_info", "shipped", "sample_context", "validate_template",
           "load_overrides", "save_template", "reset_template", "get_template", "ticket_reply"]


def languages() -> tuple[str, ...]:
    """The languages messages are rendered in: those Tocsin speaks (see `incident.locales`)."""
    return locales.available()


def normalize_locale(locale: str | None) -> str:
    """The language a reader with this tag is written to: "de-CH" → "de" when only German ships,
    "it_IT" → "it"; nothing (or nonsense) → the default."""
    return locales.language_for(locale)


def _check_key(kind: str, channel: str) -> None:
    if kind not in KINDS:
        raise ValidationFailed(f"Unknown message kind {kind!r}; one of {', '.join(KINDS)}.")
    if channel not in SEND_CHANNELS:
        raise ValidationFailed(f"Unknown channel {channel!r}; one of {', '.join(SEND_CHANNELS)}.")


def _read(name: str) -> str | None:
    return _read_in(locales.extra_dirs(), name)


@lru_cache(maxsize=None)
def _read_in(directories: tuple[Path, ...], name: str) -> str | None:
    """The first file of that name in LOCALE_DIRS, else the shipped one."""
    for directory in (*directories, TEMPLATE_DIR):
        path = directory / name
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def shipped(kind: str, channel: str, locale: str) -> tuple[str, str] | None:
    """The shipped (subject, body) for this key, or None when that locale has none."""
    body = _read(f"{kind}.{locale}.{channel}.txt")
    if body is None:
        return None
    subject = _read(f"{kind}.{locale}.{channel}.subject.txt") if channel in WITH_SUBJECT else ""
    return (subject or "").strip(), body


def resolve(kind: str, channel: str, locale: str, overrides: dict | None = None) -> tuple[str, str, str]:
    """(locale used, subject, body): along the language chain, the first edit or shipped template
    (a ticket reply: the email's)."""
    _check_key(kind, channel)
    channel = "email" if channel == "ticket" else channel
    overrides = overrides or {}
    for candidate in locales.chain(locale):
        found = overrides.get((kind, channel, candidate)) or shipped(kind, channel, candidate)
        if found:
            return candidate, found[0], found[1]
    raise LookupError(f"no template for {kind}/{channel}")  # English always ships


def _clean(value):
    """A copy of a context value with sentinel characters gone and line ends made "\n"."""
    if isinstance(value, str):
        return _PRIVATE.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _values(context: dict, locale: str) -> dict:
    """What a template sees: the cleaned context plus the worked-out values."""
    values = _clean(dict(context))
    for key, sentinel in (("customer_name", NAME_SENTINEL), ("unsubscribe_url", UNSUBSCRIBE_SENTINEL)):
        given = context.get(key, sentinel)
        values[key] = sentinel if given in (None, sentinel) else values[key]
    incident = {"reference": "", "title": "", "status": "", "severity": "", "services": [], "summary": "",
                **(values.get("incident") or {})}
    incident["services"] = [str(s) for s in incident.get("services") or []]
    values["incident"] = incident
    values.setdefault("message", "")
    values.setdefault("status_page_url", "")
    values["message"] = (values["message"] or "").strip()
    values["workaround"] = (values.get("workaround") or "").strip()
    values["locale"] = locale
    when, now = context.get("next_update_at"), context.get("now")
    values["next_update_at"] = when
    values["next_update"] = format_when(when, locale, now=now)
    values["next_update_by"] = next_update_phrase(when, locale, now=now)
    values["services"] = join_list(incident["services"], locale)
    values["service_count"] = len(incident["services"])
    values["status_label"] = status_label(incident["status"], locale) if incident["status"] else ""
    return values


def render(kind: str, channel: str, locale: str, context: dict, *,
           overrides: dict | None = None) -> RenderedMessage:
    """The message for one channel and locale; ValidationFailed when its template fails."""
    if channel == "ticket":
        return ticket_reply(render(kind, "email", locale, context, overrides=overrides))
    used, subject_src, body_src = resolve(kind, channel, locale, overrides)
    values = _values({**context, "kind": kind}, used)
    name = f"{kind}.{used}.{channel}"
    try:
        if channel == "sms":
            return RenderedMessage(text=tidy(render_source(text_env, body_src, values), one_line=True))
        subject = tidy(render_source(text_env, subject_src, values, "subject"), one_line=True)
        if channel == "slack":
            return slack_message(subject, tidy(render_source(slack_env, body_src, values)), values)
        return email_message(subject, tidy(render_source(text_env, body_src, values)), values)
    except TemplateFailed as failure:
        raise failure.as_validation(name) from None


def ticket_reply(email: RenderedMessage) -> RenderedMessage:
    """An email's words as a reply on the customer's own helpdesk ticket: plain text, without the
    mailing's footer and unsubscribe line (a reply on a conversation they opened is not a mailing)."""
    lines = email.text.split("\n")
    if "--" in lines:                       # the footer, after the signature separator
        lines = lines[:lines.index("--")]
    text = "\n".join(line for line in lines if UNSUBSCRIBE_SENTINEL not in line)
    return RenderedMessage(text=text.rstrip() + "\n", subject=email.subject)


@overload
def _fill(text: str, name: str, url: str) -> str: ...
@overload
def _fill(text: None, name: str, url: str) -> None: ...
def _fill(text: str | None, name: str, url: str) -> str | None:
    if text is None:
        return None
    text = _NAME.sub(lambda m: m.group(0)[:-len(NAME_SENTINEL)] + name if name else "", text)
    return text.replace(UNSUBSCRIBE_SENTINEL, url)


def _fill_blocks(node, name: str, url: str):
    if isinstance(node, list):
        return [_fill_blocks(item, name, url) for item in node]
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            return {**node, "text": _fill(node["text"], slack_escape(name), slack_escape(url))}
        return {key: _fill_blocks(value, name, url) for key, value in node.items()}
    return _fill(node, name, url) if isinstance(node, str) else node


def personalize(message: RenderedMessage, *, name: str, unsubscribe_url: str) -> RenderedMessage:
    """One customer's copy: the sentinels replaced, escaped as each part needs.

    An empty name drops the sentinel and the space (and comma) before it ("Hello ," never happens:
    "Hello {{ customer_name }}," reads "Hello,", "Hola, {{ customer_name }}:" reads "Hola:"). Email gets
    List-Unsubscribe and the one-click List-Unsubscribe-Post (RFC 8058) when there is an unsubscribe URL.
    """
    name = " ".join(_clean(name or "").split())
    url = _clean(unsubscribe_url or "").strip()
    if message.html is not None:
        headers = {k: v for k, v in message.headers.items()
                   if k.lower() not in ("list-unsubscribe", "list-unsubscribe-post")}
        if url:
            headers.update({"List-Unsubscribe": f"<{url}>",
                            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
        return replace(message, text=_fill(message.text, name, url), subject=_fill(message.subject, name, url),
                       html=_fill(message.html, str(escape(name)), str(escape(url))), headers=headers)
    if message.blocks is not None:
        return replace(message, text=_fill(message.text, slack_escape(name), slack_escape(url)),
                       blocks=_fill_blocks(message.blocks, name, url))
    return replace(message, text=_fill(message.text, name, url), subject=_fill(message.subject, name, url))


def sample_context(locale: str = "en", **changes) -> dict:
    """A realistic context for previews and for trying an edited template."""
    now = utcnow().replace(second=0, microsecond=0)
    context = {
        "incident": {"reference": "INC-42", "title": "Login and payments failing for some customers",
                     "status": "identified", "severity": "SEV2", "services": ["login", "payments"],
                     "summary": "Some sign-ins and card payments fail with an error."},
        "kind": "apology", "message": "", "workaround": "", "status_page_url": "https://status.example.com/",
        "next_update_at": now + timedelta(minutes=30), "now": now,
        "customer_name": "Acme Srl", "unsubscribe_url": "https://status.example.com/unsubscribe/sample",
        "locale": locale,
    }
    context.update(changes)
    return context


def preview(kind: str, channels, locales, context: dict, overrides: dict | None = None) -> dict:
    """{channel: {locale: message as the customer gets it}}; a cell that fails carries "error"."""
    name = context.get("customer_name")
    url = context.get("unsubscribe_url")
    base = {**context, "customer_name": NAME_SENTINEL, "unsubscribe_url": UNSUBSCRIBE_SENTINEL}
    result: dict = {}
    for channel in channels:
        for locale in locales:
            cell: dict = {"locale_used": None, "error": None}
            try:
                cell["locale_used"] = resolve(kind, channel, locale, overrides)[0]
                message = render(kind, channel, locale, {**base, "locale": locale}, overrides=overrides)
                message = personalize(message, name=name if name not in (None, NAME_SENTINEL) else "",
                                      unsubscribe_url=url if url not in (None, UNSUBSCRIBE_SENTINEL) else "")
            except ValidationFailed as error:
                cell.update(error=error.message, details=error.details)
            else:
                cell.update(subject=message.subject, text=message.text, html=message.html,
                            blocks=message.blocks, headers=dict(message.headers))
                if channel == "sms":
                    cell["sms"] = sms_info(message.text)
            result.setdefault(channel, {})[locale] = cell
    return result


def _variants(locale: str) -> list[dict]:
    """Contexts that take a template down its different branches."""
    full = sample_context(locale, message="We have moved traffic to the backup site.",
                          workaround="Sign in from the mobile app until this is fixed.")
    return [
        full,
        sample_context(locale, next_update_at=None, message=""),
        sample_context(locale, incident={**full["incident"], "services": [], "summary": "",
                                         "status": "investigating"}, status_page_url=""),
        sample_context(locale, incident={**full["incident"], "services": ["api"], "status": "resolved"},
                       customer_name=""),
    ]


def validate_template(kind: str, channel: str, locale: str, subject: str, body: str) -> None:
    """Raise ValidationFailed unless the template parses and renders for every kind of context."""
    _check_key(kind, channel)
    if channel in WITH_SUBJECT and not (subject or "").strip():
        raise ValidationFailed(f"A {channel} template needs a subject.", details={"subject": "required"})
    if len(subject or "") > SUBJECT_MAX or len(body or "") > MAX_SOURCE:
        raise ValidationFailed(f"A template is at most {MAX_SOURCE} characters, its subject {SUBJECT_MAX}.")
    if not (body or "").strip():
        raise ValidationFailed("The template body is empty.", details={"body": "required"})
    overrides = {(kind, channel, locale): ((subject or "").strip() if channel in WITH_SUBJECT else "", body)}
    for context in _variants(locale):
        message = render(kind, channel, locale, {**context, "kind": kind}, overrides=overrides)
        if not message.text.strip():
            raise ValidationFailed("The template renders to an empty message.")



def load_overrides() -> dict:
    """{(kind, channel, locale): (subject, body)} for every staff edit."""
    rows = db.session.scalars(db.select(MessageTemplate))
    return {(row.kind, row.channel, row.locale): (row.subject or "", row.body) for row in rows}


def get_template(kind: str, channel: str, locale: str) -> dict:
    """What the editor shows: the current subject and body, and whether staff changed them."""
    _check_key(kind, channel)
    locale = normalize_locale(locale)
    row = db.session.scalar(db.select(MessageTemplate).filter_by(kind=kind, channel=channel, locale=locale))
    used, subject, body = resolve(kind, channel, locale)
    return {"kind": kind, "channel": channel, "locale": locale, "edited": row is not None,
            "subject": row.subject if row else subject, "body": row.body if row else body,
            "shipped_locale": used, "updated_at": row.updated_at if row else None,
            "updated_by_id": row.updated_by_id if row else None}


def save_template(kind: str, channel: str, locale: str, subject: str, body: str, actor) -> dict:
    """Store a staff edit after trying it; saving the shipped wording removes the edit."""
    _check_key(kind, channel)
    spoken = locales.spoken_language(locale)
    if spoken is None:
        raise ValidationFailed(f"Unknown locale {locale!r}.",
                               details={"locale": f"one of {', '.join(languages())}"})
    locale = spoken
    body = (body or "").replace("\r\n", "\n")
    subject = (subject or "").strip() if channel in WITH_SUBJECT else ""
    validate_template(kind, channel, locale, subject, body)
    row = db.session.scalar(db.select(MessageTemplate).filter_by(kind=kind, channel=channel, locale=locale))
    before = _audit_view(row)
    if shipped(kind, channel, locale) == (subject, body):
        if row is not None:
            db.session.delete(row)
    else:
        if row is None:
            row = MessageTemplate(kind=kind, channel=channel, locale=locale)
            db.session.add(row)
        row.subject, row.body, row.updated_at = subject, body, utcnow()
        row.updated_by_id = getattr(actor, "id", None)
    audit.record(actor, AuditKind.MESSAGE_TEMPLATE, f"{kind}.{locale}.{channel}", before,
                 _audit_view(row) if row is not None and row not in db.session.deleted else None)
    _commit()
    logger.info("template %s.%s.%s saved by %s", kind, locale, channel, getattr(actor, "email", actor))
    return get_template(kind, channel, locale)


def reset_template(kind: str, channel: str, locale: str, actor) -> dict:
    """Drop the staff edit: the shipped wording (or English's) applies again."""
    _check_key(kind, channel)
    locale = normalize_locale(locale)
    row = db.session.scalar(db.select(MessageTemplate).filter_by(kind=kind, channel=channel, locale=locale))
    audit.record(actor, AuditKind.MESSAGE_TEMPLATE, f"{kind}.{locale}.{channel}", _audit_view(row), None)
    db.session.execute(db.delete(MessageTemplate).filter_by(kind=kind, channel=channel, locale=locale))
    _commit()
    logger.info("template %s.%s.%s reset by %s", kind, locale, channel, getattr(actor, "email", actor))
    return get_template(kind, channel, locale)


def _audit_view(row: MessageTemplate | None) -> dict | None:
    """What the audit keeps of a staff edit (None: the shipped wording applies)."""
    return None if row is None else {"subject": row.subject or "", "body": row.body}


def _commit() -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Someone else saved this template at the same time; try again.") from None
