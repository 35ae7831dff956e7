"""The Slack modals (Block Kit views) `/incident` opens, and what their submissions say. Pure."""
from __future__ import annotations

import json
import re

from ..incidents.policy import SEVERITIES, STATUSES
from .slack_commands import DEFAULT_SEVERITY, TEXT_MAX, TITLE_MAX

DECLARE, UPDATE = "tocsin_declare", "tocsin_update"
SUMMARY_MAX = 3000   # Slack's limit for a text input


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value: str) -> dict:
    return {"type": "plain_text", "text": value}


def _option(value: str, label: str | None = None) -> dict:
    return {"text": _text(label or value), "value": value}


def _input(block_id: str, label: str, element: dict, *, optional: bool = False, hint: str | None = None) -> dict:
    block = {"type": "input", "block_id": block_id, "label": _text(label), "optional": optional,
             "element": {"action_id": "value", **element}}
    if hint:
        block["hint"] = _text(hint)
    return block


def _modal(callback_id: str, title: str, submit: str, metadata: dict, blocks: list[dict]) -> dict:
    return {"type": "modal", "callback_id": callback_id, "title": _text(title), "submit": _text(submit),
            "close": _text("Cancel"), "private_metadata": json.dumps(metadata), "blocks": blocks}


def declare_view(*, channel_id: str, title: str = "") -> dict:
    """The declare form: title, severity, services, summary."""
    severity = {"type": "static_select", "options": [_option(s) for s in SEVERITIES],
                "initial_option": _option(DEFAULT_SEVERITY)}
    title_input = {"type": "plain_text_input", "max_length": TITLE_MAX}
    if title:
        title_input["initial_value"] = title[:TITLE_MAX]
    return _modal(DECLARE, "Declare an incident", "Declare", {"channel": channel_id}, [
        _input("title", "Title", title_input),
        _input("severity", "Severity", severity, hint="SEV1: customers cannot work or data is at risk."),
        _input("services", "Affected services", {"type": "plain_text_input",
                                                 "placeholder": _text("login, api")},
               optional=True, hint="Names separated by commas."),
        _input("summary", "Summary", {"type": "plain_text_input", "multiline": True, "max_length": SUMMARY_MAX},
               optional=True),
    ])


def update_view(*, incident_id: int, reference: str, title: str, status: str) -> dict:
    """The status update form: new status, message, public or internal."""
    select = {"type": "static_select", "options": [_option(s) for s in STATUSES], "initial_option": _option(status)}
    visibility = {"type": "radio_buttons", "options": [_option("public", "Public (the status page shows it)"),
                                                       _option("internal", "Internal (staff only)")],
                  "initial_option": _option("public", "Public (the status page shows it)")}
    return _modal(UPDATE, f"Update {reference}"[:24], "Post", {"incident": incident_id}, [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{reference}*: {_escape(title)}"}},
        _input("status", "Status", select),
        _input("message", "Message", {"type": "plain_text_input", "multiline": True, "max_length": SUMMARY_MAX},
               optional=True),
        _input("visibility", "Who sees it", visibility),
    ])


def done_view(title: str, text: str) -> dict:
    """What a submitted form turns into: what happened, and a Close button."""
    return {"type": "modal", "title": _text(title[:24]), "close": _text("Close"),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def submitted_values(view: dict) -> dict[str, str | None]:
    """{block id: the value typed or chosen} from a view_submission's `view.state.values`."""
    values: dict[str, str | None] = {}
    state = _dict(view.get("state"))
    for block_id, actions in (state.get("values") or {}).items():
        action = actions.get("value") if isinstance(actions, dict) else None
        if not isinstance(action, dict):
            continue
        chosen = action.get("selected_option")
        values[block_id] = (chosen.get("value") if isinstance(chosen, dict) else action.get("value"))
    return values


def metadata(view: dict) -> dict:
    """The form's private_metadata (what Tocsin put there when it opened it)."""
    try:
        found = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def parse_services(raw: str | None) -> list[str]:
    return [name.lower() for name in re.split(r"[,\s]+", raw or "") if name]


def declare_input(values: dict[str, str | None]) -> dict:
    """The declare form's values as `DeclareIncident` takes them."""
    return {"title": " ".join((values.get("title") or "").split()), "severity": values.get("severity") or "",
            "services": parse_services(values.get("services")), "summary": (values.get("summary") or "").strip()}


def update_input(values: dict[str, str | None]) -> dict:
    """The update form's values as `PostUpdate` takes them."""
    return {"status": values.get("status") or None, "message": (values.get("message") or "").strip()[:TEXT_MAX],
            "public": values.get("visibility") != "internal"}


# block of the form that shows a field's error
FIELD_BLOCKS = {"title": "title", "severity": "severity", "services": "services", "summary": "summary",
                "status": "status", "message": "message", "public": "visibility"}
