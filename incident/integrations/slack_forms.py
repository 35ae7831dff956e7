"""The `/incident` forms once submitted (view_submission), and how the worker opens them (views.open).

A submission is validated as the API validates the same change (errors go under the field) and
answered in the form itself; it is handled once per view and version (`view.id`, `view.hash`).
"""
from __future__ import annotations

from pydantic import ValidationError

from ..auth.models import User
from ..errors import AppError
from ..extensions import db
from ..incidents.models import Incident, may_see
from ..incidents.schemas import DeclareIncident, PostUpdate
from ..outbox.channels import RenderedMessage, SendResult
from ..outbox.purposes import Purpose, register_purpose
from . import slack_commands as say
from . import slack_views as views
from .slack_service import SEEN, Origin, declare_from_slack, refused, staff_by_slack_id, update_reply


def _errors(error: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for problem in error.errors(include_url=False):
        field = str(problem["loc"][0]) if problem["loc"] else "title"
        found.setdefault(views.FIELD_BLOCKS.get(field, "title"), problem["msg"].removeprefix("Value error, "))
    return found


def submit_view(view: dict, origin: Origin) -> dict | None:
    """A submitted form: the answer Slack shows in it (errors by field, or what was done)."""
    user = staff_by_slack_id(origin.slack_user)
    verb = {views.DECLARE: "declare", views.UPDATE: "update"}.get(str(view.get("callback_id")))
    if verb is None:
        return None
    if user is None or not user.can(say.NEEDS[verb]):
        text = say.NOT_STAFF if user is None else say.needs_text(verb, user.role)
        return {"response_action": "update", "view": views.done_view("Not allowed", refused(origin, verb, text, text).text)}
    values = views.submitted_values(view)
    try:
        body = (DeclareIncident if verb == "declare" else PostUpdate).model_validate(
            views.declare_input(values) if verb == "declare" else views.update_input(values))
    except ValidationError as error:
        return {"response_action": "errors", "errors": _errors(error)}
    if verb == "declare":
        assert isinstance(body, DeclareIncident)
        facts = declare_from_slack(user, title=body.title, severity=body.severity, summary=body.summary,
                                   services=body.services, key=origin.key)
        text = say.declared_text(facts) if facts else say.ALREADY_HANDLED
        return {"response_action": "update", "view": views.done_view("Declared", text)}
    return _submit_update(user, view, body, origin)


def _submit_update(user: User, view: dict, body, origin: Origin) -> dict:
    incident = db.session.get(Incident, views.metadata(view).get("incident") or 0)
    if incident is None or not may_see(incident, user):
        return {"response_action": "errors", "errors": {"status": "That incident is gone."}}
    command = say.Command("update", incident.id, status=body.status, message=body.message, public=body.public)
    if not SEEN.claim(origin.key):
        return {"response_action": "update", "view": views.done_view("Update", say.ALREADY_HANDLED)}
    try:
        text = update_reply(user, incident, command).text
    except AppError as error:
        db.session.rollback()
        return {"response_action": "errors", "errors": {"status": error.message}}
    SEEN.settle(origin.key)
    return {"response_action": "update", "view": views.done_view("Update posted", text)}


def _open_view(channel, row: dict, _message: RenderedMessage) -> SendResult:
    """views.open with the row's trigger id (a trigger is good for three seconds: no retry helps later)."""
    if not row["recipient"]:
        return SendResult(ok=False, error="no_trigger_id")
    return channel.open_view(row["recipient"], (row["headers"] or {}).get("view") or {})


register_purpose("slack_view", Purpose(send=_open_view))
