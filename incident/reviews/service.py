"""Review use cases: open on resolve, write, move along (draft → in review → published), read back;
action items: add, change, list."""
from __future__ import annotations

import logging
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from ..auth.models import User
from ..auth.service import get_user_by_email
from ..clock import isoformat, utcnow
from ..errors import Conflict, NotAllowed, NotFound, ValidationFailed
from ..extensions import db
from ..incidents.models import MAX_ID, Incident
from ..incidents.signals import incident_resolved
from ..incidents.timeline import record
from ..incidents.visibility import visible_ids
from ..uow import unit_of_work
from ..vocabulary import ActionItemState, ReviewStatus
from . import policy
from .models import ActionItem, Review
from .record import build_record
from .schemas import ActionItemIn, item_to_dict

logger = logging.getLogger(__name__)


def today() -> date:
    """Today, as a UTC day: due dates are days, and Tocsin's days are UTC days."""
    return utcnow().date()


# Opening ----------------------------------------------------------------------------------------

@incident_resolved.connect
def _on_incident_resolved(incident: Incident, *, actor: User | None = None, **_) -> None:
    """Resolving a major incident opens its review, in the same transaction; resolving it again opens no other."""
    if incident.severity in current_app.config["REVIEW_SEVERITIES"]:
        open_review(incident, actor, how="resolved")


def open_review(incident: Incident, actor: User | None, *, how: str) -> Review | None:
    """The incident's review, opened as a draft unless it has one already (flush, no commit); None if it had."""
    if db.session.scalar(select(Review.id).where(Review.incident_id == incident.id)) is not None:
        return None
    now = utcnow()
    review = Review(incident_id=incident.id, status=ReviewStatus.DRAFT, opened_at=now, updated_at=now,
                    opened_by_id=actor.id if actor else None)
    db.session.add(review)
    db.session.flush()
    record(incident, "review_opened", actor, {"severity": incident.severity, "how": how})
    logger.info("%s: review opened (%s)", incident.reference, how)
    return review


def open_review_by_hand(actor: User, incident_id) -> Review:
    """A lead opens a review for a resolved incident that did not get one (a SEV3 worth learning from)."""
    with unit_of_work(conflict=("This incident has a review already.", "review_exists")):
        incident = Incident.get_or_raise(incident_id)
        if incident.is_open:
            raise Conflict(f"{incident.reference} is still open: resolve it first.", code="incident_open")
        review = open_review(incident, actor, how="by hand")
        if review is None:
            raise Conflict(f"{incident.reference} has a review already.", code="review_exists")
    return review


# Reading ----------------------------------------------------------------------------------------

def get_review_or_raise(incident_id) -> tuple[Incident, Review]:
    """The incident and its review; 404 for either."""
    incident = Incident.get_or_raise(incident_id)
    review = db.session.scalar(select(Review).where(Review.incident_id == incident.id))
    if review is None:
        raise NotFound(f"{incident.reference} has no review.", code="review_not_found")
    return incident, review


def find_review(incident_id: int) -> Review | None:
    return db.session.scalar(select(Review).where(Review.incident_id == incident_id))


def review_view(incident: Incident, review: Review) -> dict:
    """The review as the API, the pages and the export show it: written sections, the record (frozen
    once published, else read now) and the action items."""
    record_ = review.record if review.record is not None else build_record(incident)
    return {
        "incident_id": incident.id, "reference": incident.reference, "title": incident.title,
        "status": review.status, "version": review.version,
        "opened_at": isoformat(review.opened_at), "updated_at": isoformat(review.updated_at),
        "updated_by": review.updated_by.email if review.updated_by else None,
        "published_at": isoformat(review.published_at), "editable": policy.editable(review.status),
        "next_statuses": policy.allowed_moves(review.status),
        "record_frozen": review.record is not None, "record_built_at": record_["built_at"],
        "incident": record_["incident"],
        "key_times": record_["key_times"],
        "sections": {name: getattr(review, name) for name in policy.SECTIONS},
        "action_items": [item_to_dict(i, today()) for i in items_for_incident(incident.id)],
        **{key: record_[key] for key in ("acknowledged_by", "reopened", "roles", "updates", "escalation",
                                         "broadcasts", "tickets")},
        "merged": record_.get("merged", []),   # records frozen before duplicates were listed have none
    }


# Writing ----------------------------------------------------------------------------------------

def edit_review(actor: User, incident_id, *, sections: dict | None = None, status: str | None = None,
                version: int | None = None) -> Review:
    """Write sections and/or move the status; `version` (what the writer read) guards against overwriting
    someone else's save. A published review takes no writing until it is reopened to draft."""
    try:
        with unit_of_work(conflict=("The review changed meanwhile; reload it.", "review_changed")):
            incident, review = get_review_or_raise(incident_id)
            if version is not None and version != review.version:
                raise Conflict("The review changed since you read it; reload it and write again.",
                               code="review_changed", details={"version": review.version})
            if status == ReviewStatus.DRAFT and review.status == ReviewStatus.PUBLISHED:
                _move(actor, incident, review, status)   # reopen first, then the writing lands on the draft
            _write(actor, review, sections or {})
            if status is not None:
                _move(actor, incident, review, status)
    except StaleDataError:   # another save got in between our read and our write
        raise Conflict("The review changed meanwhile; reload it.", code="review_changed") from None
    return review


def _write(actor: User, review: Review, sections: dict) -> None:
    changed = {name: text for name, text in sections.items() if getattr(review, name) != text}
    if not changed:
        return
    if not policy.editable(review.status):
        raise Conflict("The review is published and reads as published; reopen it to draft to change it.",
                       code="review_published", details={"status": review.status})
    for name, text in changed.items():
        setattr(review, name, text)
    review.updated_at, review.updated_by_id = utcnow(), actor.id


def _move(actor: User, incident: Incident, review: Review, new: str) -> None:
    try:
        how = policy.check_transition(review.status, new)
    except policy.TransitionRefused as error:
        raise Conflict(f"The review cannot move to {new}: {error}.", code="invalid_transition",
                       details={"status": str(error), "current": review.status, "allowed": error.allowed}) from None
    if how == "same":
        return
    old, now = review.status, utcnow()
    if new == ReviewStatus.PUBLISHED:
        missing = policy.missing_for_publishing({name: getattr(review, name) for name in policy.SECTIONS})
        if missing:
            raise ValidationFailed("Write the summary before publishing.", code="review_incomplete",
                                   details={name: "write it before publishing" for name in missing})
        review.record, review.published_at = build_record(incident), now
        record(incident, "review_published", actor, {"from": old})
    else:
        if old == ReviewStatus.PUBLISHED:
            review.record, review.published_at = None, None   # read live again until it is published anew
        record(incident, "review_status_changed", actor, {"from": old, "to": new, "how": how})
    review.status, review.updated_at, review.updated_by_id = new, now, actor.id
    logger.info("%s: review %s by %s", incident.reference, how, actor.email)


# Action items -----------------------------------------------------------------------------------

def _owner(email: str) -> User:
    user = get_user_by_email(email)
    if user is None or not user.active:
        raise ValidationFailed(f"No active staff member {email!r}.", code="unknown_owner",
                               details={"owner": "not an active staff member"})
    return user


def _not_past(day: date) -> None:
    if day < today():
        raise ValidationFailed("The due day has passed already.", code="due_in_the_past",
                               details={"due_on": f"today ({today().isoformat()}, UTC) or later"})


def add_action_item(actor: User, incident_id, data: ActionItemIn) -> ActionItem:
    """An action item on the incident's review, owned by a staff member, due on a day."""
    with unit_of_work():
        incident, review = get_review_or_raise(incident_id)
        if review.status == ReviewStatus.PUBLISHED:
            raise Conflict("The review is published; reopen it to draft to add action items.",
                           code="review_published", details={"status": review.status})
        owner = _owner(data.owner)
        _not_past(data.due_on)
        now = utcnow()
        item = ActionItem(incident_id=incident.id, title=data.title, owner_id=owner.id, due_on=data.due_on,
                          state=ActionItemState.OPEN, url=data.url, created_at=now, created_by_id=actor.id,
                          updated_at=now)
        db.session.add(item)
        db.session.flush()
        record(incident, "action_item_created", actor, {"item": item.id, "title": item.title, "owner": owner.email,
                                                        "due_on": item.due_on.isoformat()})
    return item


def get_item_or_raise(item_id) -> ActionItem:
    try:
        key = int(item_id)
    except (TypeError, ValueError):
        key = 0
    item = db.session.get(ActionItem, key) if 0 < key <= MAX_ID else None
    if item is None:
        raise NotFound(f"No action item {item_id}.", code="action_item_not_found")
    return item


def change_action_item(actor: User, item_id, changes: dict) -> ActionItem:
    """Change an action item: a lead anything, its owner its state. Closing or reopening it goes on the timeline."""
    with unit_of_work():
        item = get_item_or_raise(item_id)
        if not policy.can_change_item(is_lead=actor.can("lead"), is_owner=item.owner_id == actor.id,
                                      fields=set(changes)):
            raise NotAllowed("Only a lead, or the item's owner for its state, can change an action item.")
        incident = db.session.get_one(Incident, item.incident_id)
        now = utcnow()
        diff: dict[str, Any] = {}
        if "owner" in changes and changes["owner"] != item.owner.email:
            owner = _owner(changes["owner"])
            diff["owner"] = [item.owner.email, owner.email]
            item.owner_id, item.owner = owner.id, owner
        if "due_on" in changes and changes["due_on"] != item.due_on:
            _not_past(changes["due_on"])
            diff["due_on"] = [item.due_on.isoformat(), changes["due_on"].isoformat()]
            item.due_on = changes["due_on"]
        for name in ("title", "url"):
            if name in changes and changes[name] != getattr(item, name):
                diff[name] = [getattr(item, name), changes[name]]
                setattr(item, name, changes[name])
        if diff:
            record(incident, "action_item_updated", actor, {"item": item.id, "title": item.title, "changes": diff})
        if "state" in changes and changes["state"] != item.state:
            item.state = changes["state"]
            item.closed_at = None if item.state == ActionItemState.OPEN else now
            kind = {ActionItemState.DONE: "action_item_done", ActionItemState.DROPPED: "action_item_dropped",
                    ActionItemState.OPEN: "action_item_reopened"}[ActionItemState(item.state)]
            record(incident, kind, actor, {"item": item.id, "title": item.title, "owner": item.owner.email})
            diff["state"] = item.state
        if diff:
            item.updated_at = now
    return item


def items_for_incident(incident_id: int) -> list[ActionItem]:
    """The incident's action items in the order they were added."""
    return list(db.session.scalars(select(ActionItem).options(selectinload(ActionItem.owner),
                                                              selectinload(ActionItem.created_by))
                                   .where(ActionItem.incident_id == incident_id).order_by(ActionItem.id)))


def list_action_items(*, owner: str | None = None, state: str | None = None, overdue: bool | None = None,
                      page: int = 1, per_page: int = 50) -> tuple[list[ActionItem], int]:
    """Action items soonest due first, filtered by owner (email), state and overdue, with the total."""
    query = select(ActionItem).where(ActionItem.incident_id.in_(visible_ids()))
    if owner is not None:
        query = query.join(User, User.id == ActionItem.owner_id).where(User.email == owner)
    if state is not None:
        query = query.where(ActionItem.state == state)
    late = (ActionItem.state == ActionItemState.OPEN) & (ActionItem.due_on < today())
    if overdue is True:
        query = query.where(late)
    elif overdue is False:
        query = query.where(~late)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.options(selectinload(ActionItem.owner), selectinload(ActionItem.created_by))
                              .order_by(ActionItem.due_on, ActionItem.id).limit(per_page).offset((page - 1) * per_page))
    return list(rows), total
