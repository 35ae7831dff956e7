"""The sandboxed Jinja environments that word customer messages, and their locale helpers.

Pure. Templates are data written by staff, rendered in `ImmutableSandboxedEnvironment`:
no attribute starting with "_", no mutation of what they are given, no Python internals,
and every loop, call, filter and operation held to a render's limits (`template_sandbox`).
`StrictUndefined` makes a typo an error instead of a silent blank. Values are always data,
never template source, so a customer writing "{{ 7*7 }}" sees "{{ 7*7 }}".

Three environments:
- `text_env` — SMS, the email text part and subject, Slack's header: no escaping;
- `slack_env` — Slack mrkdwn: every inserted value has &, <, > escaped (via `finalize`),
  so a customer's "<!channel>" is shown, never executed; `|slack_link(label)` makes a link;
- `html_env` — the email layout: HTML autoescape on.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from jinja2 import StrictUndefined
from markupsafe import Markup

from .. import locales
from .template_sandbox import LimitedSandbox


def status_label(status: str, locale: str) -> str:
    """The incident's status in words, in the reader's language ("cause identified")."""
    key = f"wording.status.{status}"
    try:
        return locales.t(locale, key)
    except KeyError:
        return status


class SlackSafe(str):
    """Text already escaped for Slack mrkdwn (what `slack_link` returns)."""


def slack_escape(value) -> str:
    """Escape the three characters Slack mrkdwn treats as control characters."""
    if isinstance(value, SlackSafe):
        return value
    text = "" if value is None else str(value)
    return SlackSafe(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def slack_link(url, label=None) -> SlackSafe:
    """A Slack mrkdwn link; "|" and ">" cannot end it early."""
    url = str(url or "").replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    if not url:
        return SlackSafe(slack_escape(label or ""))
    label = slack_escape(label).replace("|", "¦") if label else ""
    return SlackSafe(f"<{url}|{label}>" if label else f"<{url}>")


def sentence(value) -> str:
    """The text with a full stop added when it does not already end a sentence."""
    text = ("" if value is None else str(value)).strip()
    return text if not text or text[-1] in ".!?…:" else text + "."


def join_list(items, locale: str = "en") -> str:
    """"a", "a and b", "a, b and c" (Italian: "a, b e c"), in the reader's language."""
    return locales.join_list(list(items or []), locale)


def _same_day(value: datetime, now: datetime | None) -> bool:
    return now is None or now.astimezone(timezone.utc).date() == value.date()


def format_when(value: datetime | None, locale: str = "en", *, now: datetime | None = None) -> str:
    """"10:30 UTC"; with the date when it is not `now`'s day: "23 Nov 10:30 UTC", "23 novembre 10:30 UTC"."""
    if value is None:
        return ""
    value = value.astimezone(timezone.utc)
    clock = value.strftime("%H:%M") + " UTC"
    if _same_day(value, now):
        return clock
    return f"{locales.format_day(value, locale, 'format.short_day')} {clock}"


def next_update_phrase(value: datetime | None, locale: str = "en", *, now: datetime | None = None) -> str:
    """"by 10:30 UTC" / "entro le 10:30 UTC", with the date when it is not `now`'s day."""
    if value is None:
        return ""
    value = value.astimezone(timezone.utc)
    clock = value.strftime("%H:%M") + " UTC"
    if _same_day(value, now):
        return locales.t(locale, "wording.by", time=clock)
    return locales.t(locale, "wording.by_day", time=clock, day=locales.format_day(value, locale, "format.short_day"))


def _finalize_text(value):
    return "" if value is None else value


def _finalize_slack(value):
    return slack_escape(value)


def _make(**kwargs) -> LimitedSandbox:
    env = LimitedSandbox(undefined=StrictUndefined, keep_trailing_newline=False, **kwargs)
    env.add_filters(sentence=sentence, slack=slack_escape, slack_link=slack_link, join_list=join_list)
    return env


text_env = _make(autoescape=False, finalize=_finalize_text)
slack_env = _make(autoescape=False, finalize=_finalize_slack)
html_env = _make(autoescape=True, finalize=_finalize_text)

_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t]+")


def tidy(text: str, *, one_line: bool = False) -> str:
    """Trailing spaces off, at most one blank line in a row; one line for SMS and subjects."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if one_line:
        return _SPACES.sub(" ", " ".join(line.strip() for line in text.split("\n") if line.strip()))
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n").strip()


_URL = re.compile(r"https?://[^\s<>\"']+")


def text_to_html(text: str) -> Markup:
    """Plain text as HTML paragraphs: everything escaped, web addresses made links."""
    paragraphs = []
    for block in text.split("\n\n"):
        escaped = str(Markup.escape(block))
        linked = _URL.sub(_link, escaped)
        paragraphs.append("<p style=\"margin:0 0 16px 0\">" + linked.replace("\n", "<br>\n") + "</p>")
    return Markup("\n".join(paragraphs))


def _link(match: re.Match) -> str:
    url = match.group(0)
    trail = ""
    while url and url[-1] in ".,;:!?)":
        url, trail = url[:-1], url[-1] + trail
    # `url` is already HTML-escaped ("&amp;"), which is what an attribute value needs.
    return f'<a href="{url}" style="color:#1d4ed8">{url}</a>{trail}'
