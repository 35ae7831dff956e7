"""Escalation use cases: policies and rotations, escalate, acknowledge, and the worker's deadlines."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm.exc import StaleDataError

from .. import audit
from ..auth.models import User
from ..clock import isoformat, utcnow
from ..dbutil import dialect
from ..errors import Conflict, NotAllowed, NotFound, ValidationFailed
from ..extensions import db
from ..incidents.models import Incident
from ..incidents.timeline import record
from ..incidents.visibility import add_members
from ..outbox.channels import RenderedMessage
from ..outbox.models import Delivery
from ..roles.service import holders_by_incident
from ..uow import unit_of_work, use_case
from ..vocabulary import AuditKind, Channel, DeliveryStatus, Mode, PageChannel
from . import call_script, messages
from . import policy as pure
from .models import Acknowledgement, EscalationPolicy, EscalationStep, IncidentEscalation, Rotation, RotationOverride

logger = logging.getLogger(__name__)
POLICY_FIELDS = ("definition", "severities", "services")
ROTATION_FIELDS = ("users", "shift_hours", "starts_at", "timezone")
OVERRIDE_FIELDS = ("user", "starts_at", "ends_at")

LOCALE = "X-Tocsin-Locale"   # a call's language, kept with its row for the TwiML


def call_urls(base: str, page_id: int) -> dict[str, str]:
    """Where Twilio fetches a call's TwiML and reports how it ended (the voice channel's `Url` and
    `StatusCallback`)."""
    return {"Url": f"{base}/twilio/voice?page={page_id}", "StatusCallback": f"{base}/twilio/voice/status?page={page_id}"}


# Policies and rotations ------------------------------------------------------------------

def _policy_error(error: pure.PolicyError) -> ValidationFailed:
    return ValidationFailed(str(error.args[0]) if error.args else "Invalid policy.", details=error.details)


def _check_people(policy: pure.Policy) -> None:
    users = {t.user for level in policy.levels for t in level.targets if t.user}
    rotations = {t.rotation for level in policy.levels for t in level.targets if t.rotation}
    known_users = set(db.session.scalars(select(User.email).where(User.email.in_(users), User.active.is_(True))))
    known_rotations = set(db.session.scalars(select(Rotation.name).where(Rotation.name.in_(rotations))))
    details = {f"user:{u}": "unknown staff member" for u in sorted(users - known_users)}
    details.update({f"rotation:{r}": "unknown rotation" for r in sorted(rotations - known_rotations)})
    if details:
        raise ValidationFailed("The policy names people or rotations Tocsin does not know.", details=details)


@use_case
def put_policy(actor: User, name: str, data: dict) -> EscalationPolicy:
    """Create or replace a policy; incidents already escalating keep the copy they froze."""
    applies = data.pop("applies_to", None)
    try:
        parsed = pure.Policy.from_dict(name, data)
        severities, services = pure.applies_to_from_dict(applies)
    except pure.PolicyError as error:
        raise _policy_error(error) from None
    _check_people(parsed)
    row = db.session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == name))
    before = None if row is None else audit.snapshot(row, POLICY_FIELDS)
    if row is None:
        row = EscalationPolicy(name=name)
        db.session.add(row)
    row.definition = parsed.to_dict()
    row.severities, row.services = severities, services
    row.updated_at, row.updated_by = utcnow(), actor.email
    audit.record(actor, AuditKind.ESCALATION_POLICY, name, before, audit.snapshot(row, POLICY_FIELDS))
    return row


def get_policy_or_raise(name: str) -> EscalationPolicy:
    row = db.session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == name))
    if row is None:
        raise NotFound(f"No escalation policy {name!r}.", code="policy_not_found")
    return row


def list_policies() -> list[EscalationPolicy]:
    return list(db.session.scalars(select(EscalationPolicy).order_by(EscalationPolicy.name)))


@use_case
def put_rotation(actor: User, name: str, *, users: list[str], shift_hours: float, starts_at: datetime,
                 timezone: str | None = None) -> Rotation:
    """Create or replace a rotation (overrides are kept); with a timezone, shifts follow its wall clock."""
    try:
        pure.Rotation(name=name, users=tuple(users), shift_hours=shift_hours, starts_at=starts_at, timezone=timezone)
    except pure.PolicyError as error:
        raise _policy_error(error) from None
    known = set(db.session.scalars(select(User.email).where(User.email.in_(users), User.active.is_(True))))
    unknown = [u for u in users if u not in known]
    if unknown:
        raise ValidationFailed("Unknown staff in the rotation.", details={f"users.{users.index(u)}": "unknown staff member"
                                                                         for u in unknown})
    row = db.session.scalar(select(Rotation).where(Rotation.name == name))
    before = None if row is None else audit.snapshot(row, ROTATION_FIELDS)
    if row is None:
        row = Rotation(name=name)
        db.session.add(row)
    row.users, row.shift_hours, row.starts_at, row.timezone = list(users), shift_hours, starts_at, timezone
    row.updated_at = utcnow()
    audit.record(actor, AuditKind.ROTATION, name, before, audit.snapshot(row, ROTATION_FIELDS))
    return row


def get_rotation_or_raise(name: str) -> Rotation:
    row = db.session.scalar(select(Rotation).where(Rotation.name == name))
    if row is None:
        raise NotFound(f"No rotation {name!r}.", code="rotation_not_found")
    return row


@use_case
def add_override(actor: User, rotation_name: str, *, user: str, starts_at: datetime, ends_at: datetime) -> RotationOverride:
    """Someone else covers the rotation for a while."""
    rotation = get_rotation_or_raise(rotation_name)
    if ends_at <= starts_at:
        raise ValidationFailed("An override must end after it starts.", details={"ends_at": "before starts_at"})
    if db.session.scalar(select(User.id).where(User.email == user, User.active.is_(True))) is None:
        raise ValidationFailed("Unknown staff member.", details={"user": "unknown staff member"})
    row = RotationOverride(rotation_id=rotation.id, user=user, starts_at=starts_at, ends_at=ends_at, created_by=actor.email)
    db.session.add(row)
    db.session.flush()
    audit.record(actor, AuditKind.ROTATION_OVERRIDE, f"{rotation.name}/override/{row.id}", None,
                 {"rotation": rotation.name, **audit.snapshot(row, OVERRIDE_FIELDS)})
    return row


def list_rotations() -> list[Rotation]:
    return list(db.session.scalars(select(Rotation).order_by(Rotation.name)))


def rotation_spec(row: Rotation) -> pure.Rotation:
    overrides = db.session.scalars(select(RotationOverride).where(RotationOverride.rotation_id == row.id)).all()
    return pure.Rotation(name=row.name, users=tuple(row.users), shift_hours=row.shift_hours, starts_at=row.starts_at,
                         overrides=tuple(pure.Override(o.user, o.starts_at, o.ends_at) for o in overrides),
                         timezone=row.timezone)


def rotation_specs() -> dict[str, pure.Rotation]:
    return {row.name: rotation_spec(row) for row in db.session.scalars(select(Rotation))}


def policy_for(severity: str, services: list[str]) -> EscalationPolicy | None:
    """The policy covering one of these services, else this severity, else the one named 'default'."""
    policies = list_policies()
    for row in policies:
        if set(row.services) & set(services):
            return row
    for row in policies:
        if severity in row.severities:
            return row
    return next((row for row in policies if row.name == "default"), None)


def simulate(*, severity: str, services: list[str], at: datetime | None, mode: str, policy: str | None) -> dict:
    """The whole page schedule for a hypothetical incident, if nobody ever acknowledged."""
    row = get_policy_or_raise(policy) if policy else policy_for(severity, services)
    if row is None:
        raise Conflict("No escalation policy applies: create one named 'default'.", code="no_policy")
    start = at or utcnow()
    steps = pure.simulate(pure.Policy.from_dict(row.name, row.definition), rotation_specs(), start=start, mode=mode)
    return {"policy": row.name, "start": isoformat(start), "mode": mode, "steps": [
        {"at": isoformat(s.at), "level": s.level_name, "round": s.round, "deadline": isoformat(s.deadline),
         "skipped": s.skipped, "channels": list(s.channels),
         "recipients": [{"kind": r.kind, "value": r.value, "via": r.via} for r in s.recipients]} for s in steps]}


# Snapshots: the policy as frozen onto an incident ------------------------------------------

def _snapshot(row: EscalationPolicy) -> dict:
    rotations = rotation_specs()
    return {"policy": row.definition, "rotations": {
        name: {"users": list(r.users), "shift_hours": r.shift_hours, "starts_at": r.starts_at.isoformat(),
               "timezone": r.timezone,
               "overrides": [[o.user, o.starts_at.isoformat(), o.ends_at.isoformat()] for o in r.overrides]}
        for name, r in rotations.items()}}


def _thaw(esc: IncidentEscalation) -> tuple[pure.Policy, dict[str, pure.Rotation]]:
    rotations = {
        name: pure.Rotation(
            name=name,
            users=tuple(r["users"]),
            shift_hours=r["shift_hours"],
            starts_at=datetime.fromisoformat(r["starts_at"]),
            overrides=tuple(
                pure.Override(u, datetime.fromisoformat(a), datetime.fromisoformat(b)) for u, a, b in r["overrides"]
            ),
            timezone=r.get("timezone"),
        )  # snapshots frozen before rotations had timezones have none
        for name, r in esc.snapshot["rotations"].items()
    }
    return pure.Policy.from_dict(esc.policy_name, esc.snapshot["policy"]), rotations


# Paging ----------------------------------------------------------------------------------


@dataclass
class _Known:
    """What paging looks up, loaded once for a batch of escalations rather than once for each."""

    commanders: dict[int, str | None] = field(default_factory=dict)
    users: dict[str, User | None] = field(default_factory=dict)

    def commander(self, incident_id: int) -> str | None:
        if incident_id not in self.commanders:
            self.commanders[incident_id] = holders_by_incident([incident_id])[incident_id].get("commander")
        return self.commanders[incident_id]

    def users_by_email(self, emails: list[str]) -> dict[str, User]:
        missing = [e for e in emails if e not in self.users]
        if missing:
            self.users.update(dict.fromkeys(missing))
            self.users.update({u.email: u for u in db.session.scalars(select(User).where(User.email.in_(missing)))})
        return {e: user for e in emails if (user := self.users[e]) is not None}


def _facts(incident: Incident, level: str, known: _Known | None = None) -> messages.PageFacts:
    commander = (known or _Known()).commander(incident.id)
    return messages.PageFacts(
        incident_id=incident.id,
        reference=incident.reference,
        severity=incident.severity,
        title=incident.title,
        summary=incident.summary,
        status=incident.status,
        commander=commander,
        level=level,
        url=f"{current_app.config['PUBLIC_BASE_URL']}/incidents/{incident.id}",
    )


def _address(recipient: pure.Recipient, channel: str, users: dict[str, User]) -> tuple[str | None, User | None]:
    if recipient.kind == "slack_channel":
        return (recipient.value if channel == Channel.SLACK else None), None
    user = users.get(recipient.value)
    if user is None:
        return None, None
    addresses: dict[str, str | None] = {Channel.SLACK: user.slack_id, Channel.SMS: user.phone, Channel.EMAIL: user.email,
                                        PageChannel.VOICE: user.phone}
    return addresses.get(channel), user


def _call_message(facts: messages.PageFacts, user: User | None) -> RenderedMessage:
    """The page read aloud in the engineer's language: their own locale if staff have one, else the default."""
    locale = call_script.call_locale(getattr(user, "locale", None), current_app.config.get("DEFAULT_LOCALE"))
    return RenderedMessage(text=call_script.spoken_page(facts, locale), headers={LOCALE: locale})


def _queue_pages(incident: Incident, step_row: EscalationStep, step: pure.Step, known: _Known) -> int:
    """One outbox row per recipient and channel of a step (no commit); returns how many.

    Someone the level calls gets the channels listed after `voice` later: they are the call's
    fallback, brought forward when the call goes unanswered (calls.py), and sent anyway once
    VOICE_FALLBACK_SECONDS have passed (a lost status callback) or the level's deadline comes.
    """
    users = known.users_by_email([r.value for r in step.recipients if r.kind == "user"])
    add_members(incident.id, users.values(), "paged")   # responders see what they were paged for
    facts, queued, calls = _facts(incident, step.level_name, known), 0, []
    _, held = pure.split_at_call(step.channels)
    hold_until = step.at + timedelta(seconds=current_app.config["VOICE_FALLBACK_SECONDS"])
    if step.deadline is not None:
        hold_until = min(hold_until, step.deadline)
    for recipient in step.recipients:
        called = _address(recipient, PageChannel.VOICE, users)[0] is not None
        for channel in step.channels:
            address, user = _address(recipient, channel, users)
            if address is None:
                continue
            message = _call_message(facts, user) if channel == PageChannel.VOICE else messages.page_message(facts, channel)
            row = Delivery(
                purpose="page",
                dedupe_key=f"page:{step_row.id}:{channel}:{address}",
                incident_id=incident.id,
                step_id=step_row.id,
                user_id=user.id if user else None,
                channel=channel,
                recipient=address,
                subject=message.subject,
                text=message.text,
                html=message.html,
                blocks=message.blocks,
                headers=message.headers or None,
                status=DeliveryStatus.QUEUED,
                next_attempt_at=hold_until if called and channel in held else step.at,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            db.session.add(row)
            if channel == PageChannel.VOICE:
                calls.append(row)
            queued += 1
    if calls:   # a call's URLs name its row, so Twilio's requests find the page they are about
        db.session.flush()
        base = current_app.config["PUBLIC_BASE_URL"]
        for row in calls:
            row.headers = {**(row.headers or {}), **call_urls(base, row.id)}
    return queued


def _add_steps(
    incident: Incident, esc: IncidentEscalation, steps: list[pure.Step]
) -> list[tuple[EscalationStep, pure.Step]]:
    """The steps' rows (skipped ones too) and the escalation's next deadline. No flush, no commit."""
    rows = []
    for step in steps:
        row = EscalationStep(
            incident_id=incident.id,
            level_index=step.level_index,
            level_name=step.level_name,
            round=step.round,
            paged_at=step.at,
            deadline=step.deadline,
            skipped=step.skipped,
            recipients=[r.value for r in step.recipients],
            channels=list(step.channels),
            ended_at=step.at if step.skipped else None,
        )
        db.session.add(row)
        rows.append((row, step))
    live = [s for s in steps if not s.skipped]
    if live:
        esc.level_index, esc.round = live[-1].level_index, live[-1].round
        esc.next_deadline_at = min(s.deadline for s in live if s.deadline is not None)  # a paged step has one
        esc.state = "paging"
    else:
        esc.state, esc.next_deadline_at = "exhausted", None
    return rows


def _page_steps(
    incident: Incident, esc: IncidentEscalation, rows: list[tuple[EscalationStep, pure.Step]], actor, known: _Known
) -> None:
    """Once a flush has given the steps their ids: queue their pages, write the timeline. No commit."""
    for row, step in rows:
        if step.skipped:
            record(incident, "escalation_skipped", actor, {"level": step.level_name, "reason": step.skipped})
            continue
        pages = _queue_pages(incident, row, step, known)
        record(
            incident,
            "paged",
            actor,
            {
                "level": step.level_name,
                "round": step.round,
                "pages": pages,
                "recipients": [r.value for r in step.recipients],
                "channels": list(step.channels),
                "deadline": isoformat(step.deadline),
            },
        )
    if all(step.skipped for _, step in rows):
        record(incident, "escalation_exhausted", actor, {"policy": esc.policy_name})


def _start_steps(incident: Incident, esc: IncidentEscalation, steps: list[pure.Step], actor) -> None:
    """Record steps (skipped ones too), queue their pages, and set the next deadline. No commit."""
    rows = _add_steps(incident, esc, steps)
    db.session.flush()
    _page_steps(incident, esc, rows, actor, _Known())


@use_case
def escalate(actor: User | None, incident_id, *, level: str | None = None, reason: str = "",
             swarm: bool = False) -> IncidentEscalation:
    """Escalate to the next level (or the named one), freezing the policy on first use; swarm pages all
    (`swarm=True` turns a tiered escalation into a swarm from now on)."""
    incident = Incident.get_or_raise(incident_id)
    if not incident.is_open:
        raise Conflict(f"{incident.reference} is resolved.", code="incident_resolved")
    if swarm:
        _frozen_or_new(incident, utcnow()).mode = Mode.SWARM
    esc = _escalate(actor, incident, level=level, reason=reason)
    return esc


@use_case
def page_user(actor: User, incident_id, *, user: User, reason: str = "") -> int:
    """Page one staff member on the incident, outside the policy (Slack and SMS where they have them);
    the page carries the Acknowledge button like any other. Returns how many pages were queued."""
    incident = Incident.get_or_raise(incident_id)
    if not incident.is_open:
        raise Conflict(f"{incident.reference} is resolved.", code="incident_resolved")
    if not user.active:
        raise ValidationFailed(f"{user.email} is not active staff.", code="inactive_user")
    now, facts = utcnow(), _facts(incident, "direct")
    addresses = {Channel.SLACK: user.slack_id, Channel.SMS: user.phone}
    channels = [channel for channel, address in addresses.items() if address]
    if not channels:
        channels, addresses = [Channel.EMAIL], {Channel.EMAIL: user.email}
    for channel in channels:
        message = messages.page_message(facts, channel)
        key = f"page:direct:{incident.id}:{user.id}:{channel}:{now.timestamp()}"
        db.session.add(Delivery(purpose="page", dedupe_key=key, incident_id=incident.id, user_id=user.id, channel=channel,
                                recipient=addresses[channel], subject=message.subject, text=message.text,
                                html=message.html, blocks=message.blocks, status=DeliveryStatus.QUEUED,
                                next_attempt_at=now, created_at=now, updated_at=now))
    add_members(incident.id, [user], "paged")   # they see what they were paged for, private or not
    record(incident, "paged", actor, {"level": "direct", "round": 0, "pages": len(channels), "recipients": [user.email],
                                      "channels": [str(c) for c in channels], "deadline": None, "reason": reason})
    return len(channels)


def _frozen_or_new(incident: Incident, now: datetime) -> IncidentEscalation:
    esc = db.session.get(IncidentEscalation, incident.id)
    if esc is None:
        row = policy_for(incident.severity, [s.name for s in incident.services])
        if row is None:
            raise Conflict("No escalation policy applies: create one named 'default'.", code="no_policy")
        esc = IncidentEscalation(
            incident_id=incident.id,
            policy_name=row.name,
            snapshot=_snapshot(row),
            mode=incident.mode,
            started_at=now,
            state="paging",
            level_index=-1,
            round=0,
        )
        db.session.add(esc)
        incident.escalation_policy = row.name
    return esc


def _escalate(actor: User | None, incident: Incident, *, level: str | None, reason: str) -> IncidentEscalation:
    """The escalation itself (no commit), for escalate() and for trigger words."""
    now = utcnow()
    esc = _frozen_or_new(incident, now)
    frozen, rotations = _thaw(esc)
    names = [lv.name for lv in frozen.levels]
    if level is not None and level not in names:
        raise ValidationFailed(f"No level {level!r} in policy {esc.policy_name!r}.", details={"level": f"one of {names}"})
    target = names.index(level) if level else min(esc.level_index + 1, len(names) - 1)
    _end_current(incident.id, now)
    record(
        incident, "escalated", actor, {"to": names[target], "reason": reason, "policy": esc.policy_name, "mode": esc.mode}
    )
    _start_steps(incident, esc, pure.first_step(frozen, rotations, start=now, mode=esc.mode, level=target), actor)
    return esc


def escalate_for_trigger(incident: Incident, *, word: str, ticket: str) -> bool:
    """A linked ticket names a trigger word: page engineering now, unless it is already there (no commit)."""
    try:
        esc = _frozen_or_new(incident, utcnow())
    except Conflict:
        record(
            incident,
            "trigger_matched",
            None,
            {"word": word, "ticket": ticket, "escalated": False, "reason": "no escalation policy applies"},
        )
        return False
    names = [lv["name"] for lv in esc.snapshot["policy"]["levels"]]
    target = names.index("engineering") if "engineering" in names else len(names) - 1
    if esc.state == "acknowledged" or (esc.state == "paging" and esc.level_index >= target):
        return False
    record(incident, "trigger_matched", None, {"word": word, "ticket": ticket, "escalated": True})
    _escalate(None, incident, level=names[target], reason=f"ticket {ticket} mentions “{word}”")
    return True


def _end_current(incident_id: int, now: datetime, *, acknowledged: bool = False) -> None:
    values = {"ended_at": now, **({"acknowledged_at": now} if acknowledged else {})}
    db.session.execute(
        update(EscalationStep)
        .where(EscalationStep.incident_id == incident_id, EscalationStep.ended_at.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _breach(esc: IncidentEscalation, incident: Incident, running: list[EscalationStep], now: datetime) -> None:
    """A deadline passed: the steps still running are breached, and a late tick says so. No commit."""
    for step in running:
        step.breached_at, step.ended_at = now, now
        record(incident, "escalation_breached", None, {"level": step.level_name, "round": step.round,
                                                       "deadline": isoformat(step.deadline)})
    assert esc.next_deadline_at is not None  # it passed: that is why we are here
    late = (now - esc.next_deadline_at).total_seconds()
    tick = current_app.config["SCHEDULER_TICK_SECONDS"]
    if late > max(5 * tick, 5):
        logger.warning("%s: escalation deadline fired %.0f s late", incident.reference, late)
        record(incident, "deadline_late", None, {"late_seconds": round(late), "deadline": isoformat(esc.next_deadline_at)})


def process_due(*, limit: int = 100) -> int:
    """Worker: advance every escalation whose deadline has passed, each exactly once.

    A burst is the case that matters (one outage, hundreds of incidents' clocks running out
    together), so a batch is one transaction with a handful of statements: what it needs is read
    in one query per kind, every new step is inserted in one statement, then every page and
    timeline event in another (a commit and a dozen round trips per escalation made 300 deadlines
    take 7 s on PostgreSQL). If the batch fails, its escalations are tried one by one, so one
    that cannot advance (logged, left due, reported by the watchdog) never holds up the others.
    On PostgreSQL the rows are locked as they are read and rows another worker holds are
    skipped; the version column fences the rest.
    """
    now = utcnow()
    try:
        return _advance_batch(now, limit)
    except StaleDataError:  # acknowledged or advanced elsewhere meanwhile: read afresh next tick
        db.session.rollback()
        logger.info("an escalation changed while its deadline was processed; the batch runs again next tick")
        return 0
    except Exception:
        db.session.rollback()
        logger.exception("a batch of escalation deadlines failed; trying them one by one")
    due = db.session.scalars(_due(now, limit).with_only_columns(IncidentEscalation.incident_id)).all()
    db.session.rollback()
    done = 0
    for incident_id in due:
        try:
            done += _advance_batch(now, 1, incident_id)
        except Exception:  # noqa: BLE001 -- stays due; the watchdog reports it if it keeps failing
            db.session.rollback()
            logger.exception("escalation of incident %s could not advance; it is tried again next tick", incident_id)
    return done


def _due(now: datetime, limit: int, incident_id: int | None = None):
    query = (
        select(IncidentEscalation)
        .where(IncidentEscalation.state == "paging", IncidentEscalation.next_deadline_at <= now)
        .order_by(IncidentEscalation.next_deadline_at)
        .limit(limit)
    )
    return query if incident_id is None else query.where(IncidentEscalation.incident_id == incident_id)


def _advance_batch(now: datetime, limit: int, incident_id: int | None = None) -> int:
    """Advance up to `limit` due escalations in one transaction and commit; how many advanced."""
    query = _due(now, limit, incident_id)
    if dialect() == "postgresql":
        query = query.with_for_update(skip_locked=True)  # another worker has it: leave it
    batch = db.session.scalars(query).all()
    ids = [esc.incident_id for esc in batch]
    incidents = {i.id: i for i in db.session.scalars(select(Incident).where(Incident.id.in_(ids)))}
    running: dict[int, list[EscalationStep]] = {i: [] for i in ids}
    for step in db.session.scalars(
        select(EscalationStep)
        .where(EscalationStep.incident_id.in_(ids), EscalationStep.ended_at.is_(None))
        .order_by(EscalationStep.id)
    ):
        running[step.incident_id].append(step)
    plans = []
    for esc in batch:
        incident = incidents[esc.incident_id]
        try:
            frozen, rotations = _thaw(esc)
            steps = pure.next_steps(frozen, rotations, level_index=esc.level_index, round=esc.round, at=now, mode=esc.mode)
        except Exception:  # noqa: BLE001 -- stays due; the watchdog reports it if it keeps failing
            logger.exception("escalation of %s could not advance; it is tried again next tick", incident.reference)
            continue
        _breach(esc, incident, running[esc.incident_id], now)
        plans.append((esc, incident, _add_steps(incident, esc, steps)))
    db.session.flush()  # the steps get their ids, which the pages' dedupe keys carry
    known = _Known(commanders={i: h.get("commander") for i, h in holders_by_incident(ids).items()})
    for esc, incident, rows in plans:
        _page_steps(incident, esc, rows, None, known)
    db.session.commit()
    return len(plans)


def overdue_count(*, seconds: float) -> int:
    """Escalations whose deadline passed more than `seconds` ago (the watchdog's view)."""
    cutoff = utcnow() - timedelta(seconds=seconds)
    return db.session.scalar(select(func.count()).select_from(IncidentEscalation).where(
        IncidentEscalation.state == "paging", IncidentEscalation.next_deadline_at < cutoff)) or 0


# Acknowledgement -------------------------------------------------------------------------


def refuse_acknowledgement(incident_id: int | None, *, who: str, via: str, reason: str) -> None:
    """Record an acknowledgement we could not accept (unknown sender, missing permission)."""
    if incident_id is not None and db.session.get(Incident, incident_id) is not None:
        with unit_of_work():   # kept, though the caller goes on to refuse
            db.session.add(Acknowledgement(incident_id=incident_id, who=who, via=via, at=utcnow(), outcome="refused",
                                           detail=reason[:200]))
    logger.info("acknowledgement refused via %s: %s", via, reason)


def acknowledge(actor: User, incident_id, *, via: str) -> str:
    """Acknowledge as `actor`: the first stops the clock ('first'); later ones are kept as 'duplicate'."""
    incident = Incident.get_or_raise(incident_id)
    if not actor.can("engineer"):
        refuse_acknowledgement(incident.id, who=actor.email, via=via, reason=f"{actor.role} cannot acknowledge")
        raise NotAllowed("Acknowledging needs the engineer permission.")
    for _ in range(3):
        try:
            with unit_of_work():
                return _acknowledge(actor, incident, via)
        except StaleDataError:  # the worker moved the escalation this instant: look again (the unit rolled back)
            incident = Incident.get_or_raise(incident_id)
    raise Conflict("The escalation keeps changing; try again.", code="conflict")


def _acknowledge(actor: User, incident: Incident, via: str) -> str:
    now = utcnow()
    esc = db.session.get(IncidentEscalation, incident.id)
    first = esc.state != "acknowledged" if esc is not None else incident.acknowledged_at is None
    db.session.add(
        Acknowledgement(
            incident_id=incident.id,
            user_id=actor.id,
            who=actor.email,
            via=via,
            at=now,
            outcome="first" if first else "duplicate",
        )
    )
    if first:
        incident.acknowledged_at = incident.acknowledged_at or now
        level = None
        if esc is not None:
            level = pure.Policy.from_dict(esc.policy_name, esc.snapshot["policy"]).levels[esc.level_index].name
            esc.state, esc.next_deadline_at = "acknowledged", None
            _end_current(incident.id, now, acknowledged=True)
            _settle_pages(incident, actor, now, level)
        record(incident, "acknowledged", actor, {"via": via, "level": level})
    return "first" if first else "duplicate"


def _settle_pages(incident: Incident, actor: User, now: datetime, level: str) -> None:
    """Cancel pages not sent yet; queue an edit of every Slack page sent, saying who acknowledged."""
    db.session.execute(
        update(Delivery)
        .where(Delivery.incident_id == incident.id, Delivery.purpose == "page", Delivery.status == DeliveryStatus.QUEUED)
        .values(status=DeliveryStatus.CANCELLED, error="acknowledged before sending", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    sent = db.session.scalars(
        select(Delivery).where(
            Delivery.incident_id == incident.id,
            Delivery.purpose == "page",
            Delivery.channel == Channel.SLACK,
            Delivery.provider_id.is_not(None),
        )
    ).all()
    update_message = messages.acknowledged_update(_facts(incident, level), actor.label, now.strftime("%H:%M UTC"))
    for page in sent:
        db.session.add(
            Delivery(
                purpose="page_update",
                dedupe_key=f"ack:{page.id}:{now.timestamp()}",
                incident_id=incident.id,
                channel=Channel.SLACK,
                recipient=page.recipient,
                ref=page.provider_id,
                text=update_message.text,
                blocks=update_message.blocks,
                status=DeliveryStatus.QUEUED,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )


# Reading ---------------------------------------------------------------------------------


def frozen_policy(incident_id: int) -> dict:
    """The policy as frozen onto the incident's escalation."""
    esc = db.session.get(IncidentEscalation, incident_id)
    if esc is None:
        raise NotFound("This incident has not been escalated.", code="not_escalated")
    return esc.snapshot["policy"]


def paging_incident_ids(incident_ids: set[int]) -> set[int]:
    """Which of these incidents are waiting for an acknowledgement now."""
    if not incident_ids:
        return set()
    return set(
        db.session.scalars(
            select(IncidentEscalation.incident_id).where(
                IncidentEscalation.incident_id.in_(incident_ids), IncidentEscalation.state == "paging"
            )
        )
    )


def acknowledgements(incident_id: int) -> list[dict]:
    rows = db.session.scalars(
        select(Acknowledgement)
        .where(Acknowledgement.incident_id == incident_id)
        .order_by(Acknowledgement.at, Acknowledgement.id)
    )
    return [{"who": a.who, "via": a.via, "at": isoformat(a.at), "outcome": a.outcome, "detail": a.detail} for a in rows]


def escalation_view(incident: Incident) -> dict:
    """Where the escalation stands, every step with its clock, for the API and the page."""
    esc = db.session.get(IncidentEscalation, incident.id)
    if esc is None:
        return {
            "level": None,
            "policy": incident.escalation_policy,
            "next_deadline_at": None,
            "state": None,
            "round": 0,
            "steps": [],
        }
    steps = db.session.scalars(
        select(EscalationStep).where(EscalationStep.incident_id == incident.id).order_by(EscalationStep.id)
    ).all()
    level = (
        pure.Policy.from_dict(esc.policy_name, esc.snapshot["policy"]).levels[esc.level_index].name
        if esc.level_index >= 0
        else None
    )
    return {
        "level": level,
        "policy": esc.policy_name,
        "next_deadline_at": isoformat(esc.next_deadline_at),
        "state": esc.state,
        "round": esc.round,
        "mode": esc.mode,
        "steps": [
            {
                "level": s.level_name,
                "round": s.round,
                "paged_at": isoformat(s.paged_at),
                "deadline": isoformat(s.deadline),
                "breached_at": isoformat(s.breached_at),
                "acknowledged_at": isoformat(s.acknowledged_at),
                "ended_at": isoformat(s.ended_at),
                "skipped": s.skipped,
                "recipients": s.recipients,
                "channels": s.channels,
            }
            for s in steps
        ],
    }
