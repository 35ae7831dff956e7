"""Tocsin's links, unlinks and solves, carried out on the helpdesk's own tickets.

Queueing (in the transaction of the change, through signals): the first link of helpdesk tickets
to an incident queues its parent ticket; every link, unlink, merge and solve queues `update_many`
jobs of at most 100 tickets as outbox rows (purpose `helpdesk`), with one `HelpdeskSync` row per
ticket. Solving carries a public reply in the requester's language, one job per language.

Sending (`run`, each worker tick): take requests from the shared budget, claim that many due
rows, submit them, then follow the jobs Zendesk is working on (many per call) and record every
ticket's result. A row claimed before (the worker died after Zendesk took the job and before
Tocsin wrote it down) first reads its tickets back and skips those that already carry its marker
tag, so a public reply never goes twice.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import and_, exists, func, insert, or_, select, update

from ..broadcast import templates
from ..broadcast.service import message_context
from ..clock import utcnow
from ..customers.models import Customer
from ..dbutil import dialect, insert_ignoring_conflicts
from ..extensions import db
from ..incidents.models import Incident
from ..incidents.signals import incident_resolved
from ..incidents.timeline import record
from ..outbox import budget
from ..outbox.dispatch import claim, release_stale_leases, retry_wait, unsent
from ..outbox.models import Delivery
from ..outbox.purposes import Purpose, register_purpose
from ..tickets.models import HELPDESK_SOURCE, Ticket
from ..tickets.signals import tickets_linked, tickets_moved, tickets_unlinked
from ..uow import use_case
from ..vocabulary import DeliveryStatus
from . import replies
from .connector import Helpdesk, HelpdeskError, TicketChange
from .models import HelpdeskProblem, HelpdeskSync
from .sandbox import SandboxHelpdesk
from .zendesk import ZendeskHelpdesk, zendesk_id

logger = logging.getLogger(__name__)
PURPOSE = "helpdesk"
SOURCE = HELPDESK_SOURCE      # tickets of this source live in the connected helpdesk
BUDGET = replies.BUDGET
JOB_POLL_AFTER = timedelta(seconds=1)   # a job is looked at once it has had time to run
JOB_WAIT_MAX = timedelta(seconds=10)    # ... and, while others are being submitted, in batches at least this often
MAX_ATTEMPTS = 8
PARENT, LINK, UNLINK, SOLVE, PLAN = "parent", "link", "unlink", "solve", "plan"
EXPAND_PER_STEP = 5_000                 # tickets a worker step turns into jobs: 50 jobs, ahead of any account's limit

# The general dispatcher leaves these rows alone: they are paced by the helpdesk budget here.
register_purpose(PURPOSE, Purpose(own_dispatcher=True))


def helpdesk_for(app: Flask) -> Helpdesk:
    """The app's helpdesk connector, built once: Zendesk when configured, else the sandbox."""
    if "tocsin_helpdesk" not in app.extensions:
        config = app.config
        app.extensions["tocsin_helpdesk"] = (
            ZendeskHelpdesk(config["ZENDESK_URL"], config["ZENDESK_EMAIL"], config["ZENDESK_API_TOKEN"])
            if config.get("ZENDESK_URL") else SandboxHelpdesk())
    return app.extensions["tocsin_helpdesk"]


def incident_tag(incident_id: int) -> str:
    return f"tocsin_inc_{incident_id}"


def marker_tag(row_id: int) -> str:
    """The tag each job leaves on its tickets: seen on a ticket, that job reached it."""
    return f"tocsin_job_{row_id}"


# Queueing ------------------------------------------------------------------------------------

def _ensure_parent(incident: Incident) -> None:
    now = utcnow()
    # RETURNING, not rowcount: psycopg gives -1 for an INSERT … ON CONFLICT DO NOTHING run this way
    inserted = db.session.execute(insert_ignoring_conflicts(HelpdeskProblem.__table__, ["incident_id"]).values(
        incident_id=incident.id, ticket_id=None, created_at=now).returning(HelpdeskProblem.incident_id)).first()
    if inserted is not None:
        url = f"{current_app.config['PUBLIC_BASE_URL']}/incidents/{incident.id}"
        db.session.add(Delivery(
            purpose=PURPOSE, dedupe_key=f"hd:parent:{incident.id}", incident_id=incident.id, channel=SOURCE,
            recipient=PARENT, subject=f"{incident.reference}: {incident.title}"[:300],
            text=f"Tocsin incident {incident.reference} ({incident.severity}): {incident.title}\n{url}",
            headers={"action": PARENT, "tags": [incident_tag(incident.id)]}, status=DeliveryStatus.QUEUED,
            next_attempt_at=now, created_at=now, updated_at=now))


def queue(incident: Incident, action: str, tickets: list[tuple[int, str]], change: TicketChange, *,
          key: str, summary: str) -> int:
    """Queue `change` for these (ticket id, external id) pairs in jobs of the connector's size, set-based;
    how many jobs. No commit."""
    if not tickets:
        return 0
    now, size = utcnow(), helpdesk_for(current_app._get_current_object()).max_ids   # type: ignore[attr-defined]
    foreign = [ticket_id for ticket_id, external_id in tickets if zendesk_id(external_id) is None]
    if foreign:   # e.g. a CSV's own numbering: nothing to update in Zendesk, and said so
        db.session.execute(insert(HelpdeskSync), [
            {"ticket_id": ticket_id, "incident_id": incident.id, "action": action, "delivery_id": None,
             "state": "failed", "reason": "not a Zendesk ticket id", "updated_at": now} for ticket_id in foreign])
    tickets = [(ticket_id, str(zendesk_id(external_id))) for ticket_id, external_id in tickets
               if zendesk_id(external_id) is not None]
    chunks = [tickets[start:start + size] for start in range(0, len(tickets), size)]
    if not chunks:
        return 0
    subject, comment = f"{incident.reference}: {summary}"[:300], change.comment or ""
    ids = list(db.session.scalars(insert(Delivery).returning(Delivery.id, sort_by_parameter_order=True), [
        {"purpose": PURPOSE, "dedupe_key": f"hd:{key}:{number}"[:200], "incident_id": incident.id, "channel": SOURCE,
         "recipient": action, "subject": subject, "text": comment,
         "headers": {"action": action, "ids": [e for _, e in chunk], "change": change.as_dict()},
         "status": DeliveryStatus.QUEUED, "attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now,
         "sandbox": False} for number, chunk in enumerate(chunks)]))
    db.session.execute(insert(HelpdeskSync), [
        {"ticket_id": ticket_id, "incident_id": incident.id, "action": action, "delivery_id": row_id,
         "state": "pending", "updated_at": now}
        for row_id, chunk in zip(ids, chunks, strict=True) for ticket_id, _ in chunk])
    return len(chunks)


def _previous_incidents(ticket_ids: list[int], incident_id: int) -> dict[int, tuple[int, ...]]:
    """Other incidents these tickets were linked to in the helpdesk: their tags come off."""
    found: dict[int, set[int]] = defaultdict(set)
    for start in range(0, len(ticket_ids), 5000):
        for ticket_id, other in db.session.execute(
                select(HelpdeskSync.ticket_id, HelpdeskSync.incident_id).distinct().where(
                    HelpdeskSync.ticket_id.in_(ticket_ids[start:start + 5000]), HelpdeskSync.action == LINK,
                    HelpdeskSync.incident_id != incident_id)):
            found[ticket_id].add(other)
    return {t: tuple(sorted(o)) for t, o in found.items()}


def queue_link(incident: Incident, tickets: list[tuple[int, str]], *, key: str) -> int:
    """Make these helpdesk tickets incidents of the incident's parent ticket (created first, once)."""
    if not tickets:
        return 0
    _ensure_parent(incident)
    previous = _previous_incidents([t for t, _ in tickets], incident.id)
    groups: dict[tuple[int, ...], list[tuple[int, str]]] = defaultdict(list)
    for pair in tickets:
        groups[previous.get(pair[0], ())].append(pair)
    jobs = 0
    for others, group in groups.items():
        change = TicketChange(add_tags=(incident_tag(incident.id),),
                              remove_tags=tuple(incident_tag(o) for o in others))
        jobs += queue(incident, LINK, group, change, key=f"{key}:{'-'.join(map(str, others))}",
                      summary=f"link {len(group)} tickets")
    return jobs


def queue_solve(incident: Incident, tickets: list[tuple[int, str, str | None]], *, key: str) -> int:
    """Solve these helpdesk tickets with one public reply each, in the requester's language (one job, one text)."""
    by_locale: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for ticket_id, external_id, locale in tickets:
        by_locale[templates.normalize_locale(locale)].append((ticket_id, external_id))
    return sum(queue(incident, SOLVE, group, TicketChange(status="solved", comment=resolution_text(incident, locale)),
                     key=f"{key}:{locale}", summary=f"solve {len(group)} tickets ({locale})")
               for locale, group in sorted(by_locale.items()))


# Plans: what the web request writes (one row, however many tickets); the worker turns it into jobs.

def _plan(incident: Incident, action: str, *, key: str, **what) -> None:
    """One outbox row saying what to do to which tickets (`link_action_id`, or `ticket_ids`, or every
    ticket of the incident); the worker expands it into jobs, a slice per step. No commit."""
    now = utcnow()
    db.session.add(Delivery(purpose=PURPOSE, dedupe_key=f"hd:plan:{key}"[:200], incident_id=incident.id, channel=SOURCE,
                            recipient=PLAN, subject=f"{incident.reference}: {action}", text="",
                            headers={"action": action, **what, "after": 0, "tickets": 0, "jobs": 0},
                            status=DeliveryStatus.QUEUED, next_attempt_at=now, created_at=now, updated_at=now))


def _helpdesk_ids(ticket_ids: list[int]) -> list[int]:
    """Those of these tickets that live in the helpdesk."""
    return [ticket_id for start in range(0, len(ticket_ids), 5000) for ticket_id in db.session.scalars(
        select(Ticket.id).where(Ticket.id.in_(ticket_ids[start:start + 5000]), Ticket.source == SOURCE))]


@tickets_linked.connect
def _on_linked(incident: Incident, *, link_action_id: int, **_) -> None:
    any_here = db.session.scalar(select(Ticket.id).where(
        Ticket.incident_id == incident.id, Ticket.link_action_id == link_action_id, Ticket.source == SOURCE).limit(1))
    if any_here is not None:
        _plan(incident, LINK, key=f"link:{link_action_id}", link_action_id=link_action_id)


@tickets_moved.connect
def _on_moved(incident: Incident, *, ticket_ids: list[int], key: str, **_) -> None:
    if ids := _helpdesk_ids(ticket_ids):
        _plan(incident, LINK, key=f"move:{key}", ticket_ids=ids)


@tickets_unlinked.connect
def _on_unlinked(incident: Incident, *, ticket_ids: list[int], key: str, **_) -> None:
    if ids := _helpdesk_ids(ticket_ids):
        _plan(incident, UNLINK, key=f"unlink:{key}", ticket_ids=ids)


@incident_resolved.connect
def _on_resolved(incident: Incident, **_) -> None:
    any_here = db.session.scalar(select(Ticket.id).where(Ticket.incident_id == incident.id, Ticket.source == SOURCE)
                                 .limit(1))
    if incident.solve_tickets_on_resolve and any_here is not None:
        _plan(incident, SOLVE, key=f"solve:{incident.id}:{utcnow().strftime('%Y%m%d%H%M%S%f')}")


def _slice(plan: Delivery, size: int) -> tuple[list[tuple[int, str, str | None]], int, bool]:
    """The plan's next tickets (id, external id, requester locale), where the next slice starts, and
    whether this is the last."""
    what = plan.headers or {}
    after = int(what.get("after", 0))
    columns = (Ticket.id, Ticket.external_id, Customer.locale)
    query = select(*columns).outerjoin(Customer, Customer.id == Ticket.customer_id).where(Ticket.source == SOURCE)
    if "ticket_ids" in what:    # `after`: a position in the list
        ids = what["ticket_ids"][after:after + size]
        rows = db.session.execute(query.where(Ticket.id.in_(ids)).order_by(Ticket.id)).tuples().all() if ids else []
        return list(rows), after + len(ids), after + size >= len(what["ticket_ids"])
    if "link_action_id" in what:   # `after`: the last ticket id done
        query = query.where(Ticket.link_action_id == what["link_action_id"], Ticket.incident_id == plan.incident_id)
    else:
        query = query.where(Ticket.incident_id == plan.incident_id)
    rows = db.session.execute(query.where(Ticket.id > after).order_by(Ticket.id).limit(size)).tuples().all()
    return list(rows), (rows[-1][0] if rows else after), len(rows) < size


def expand_plans(app: Flask, *, per_step: int = EXPAND_PER_STEP) -> int:
    """Turn plans into jobs, `per_step` tickets at most per call (enough to stay ahead of any account's
    limit, small enough that no step is long); how many tickets. One commit per slice."""
    done = 0
    with app.app_context():
        while done < per_step:
            query = (select(Delivery).where(Delivery.purpose == PURPOSE, Delivery.recipient == PLAN,
                                            Delivery.status == DeliveryStatus.QUEUED).order_by(Delivery.id).limit(1))
            plan = db.session.scalars(query.with_for_update(skip_locked=True) if dialect() == "postgresql"
                                      else query).first()
            if plan is None:
                db.session.rollback()
                break
            incident = db.session.get_one(Incident, plan.incident_id)
            what = dict(plan.headers or {})
            tickets, after, last = _slice(plan, per_step - done)
            key = f"{plan.dedupe_key.removeprefix('hd:plan:')}:{what.get('after', 0)}"
            pairs = [(ticket_id, external_id) for ticket_id, external_id, _ in tickets]
            if what["action"] == LINK:
                jobs = queue_link(incident, pairs, key=key)
            elif what["action"] == UNLINK:
                jobs = queue(incident, UNLINK, pairs, TicketChange(detach=True, remove_tags=(incident_tag(incident.id),)),
                             key=key, summary=f"unlink {len(pairs)} tickets")
            else:
                jobs = queue_solve(incident, tickets, key=key)
            what.update(after=after, tickets=what.get("tickets", 0) + len(tickets), jobs=what.get("jobs", 0) + jobs)
            plan.headers, plan.updated_at = what, utcnow()
            if last:
                plan.status = DeliveryStatus.DELIVERED
                record(incident, "helpdesk_queued", None,
                       {"action": what["action"], "tickets": what["tickets"], "jobs": what["jobs"]})
                if not what["jobs"]:
                    _maybe_finished(plan, action=what["action"])
            db.session.commit()
            done += max(len(tickets), 1)
    return done


def resolution_text(incident: Incident, locale: str) -> str:
    """The resolution message as a helpdesk reply (the email wording, without an unsubscribe link)."""
    context = message_context(incident, "resolution", "", locale=locale, next_update_at=None)
    message = templates.render("resolution", "ticket", locale, context)
    return templates.personalize(message, name="", unsubscribe_url="").text


# Sending ---------------------------------------------------------------------------------------

def _due_clause():
    """Rows that can go now: a link waits for its incident's parent ticket."""
    parent_made = exists().where(HelpdeskProblem.incident_id == Delivery.incident_id,
                                 HelpdeskProblem.ticket_id.is_not(None))
    return and_(Delivery.purpose == PURPOSE, Delivery.recipient != PLAN, or_(Delivery.recipient != LINK, parent_made))


def _submit(helpdesk: Helpdesk, row: dict, parent: str | None) -> dict:
    """Send one row (in a thread: no database); what happened, for `_record`."""
    headers = row["headers"] or {}
    try:
        if row["recipient"] == PARENT:
            return {"ok": True, "parent": helpdesk.create_parent(row["subject"], row["text"], headers.get("tags", []))}
        ids = list(headers.get("ids") or [])
        done: list[str] = []
        if row["attempts"] > 1 and not helpdesk.sandbox:   # it may have reached the helpdesk before: look first
            marker = marker_tag(row["id"])
            done = [t.id for t in helpdesk.show_many(ids) if marker in t.tags]
            ids = [i for i in ids if i not in set(done)]
        change = TicketChange.from_dict(headers.get("change") or {})
        change = TicketChange(**{**change.__dict__, "parent_id": parent if row["recipient"] == LINK else None,
                                 "add_tags": (*change.add_tags, marker_tag(row["id"]))})
        job = helpdesk.update_many(ids, change) if ids else None
        return {"ok": True, "job": job, "done_before": done}
    except HelpdeskError as error:
        return {"ok": False, "error": str(error), "retryable": error.retryable, "retry_after": error.retry_after}
    except Exception as error:   # a connector should not raise otherwise; retry rather than lose the row
        logger.exception("helpdesk %s raised", helpdesk.name)
        return {"ok": False, "error": type(error).__name__, "retryable": True, "retry_after": None}


def _record(row: dict, result: dict, helpdesk: Helpdesk, now) -> None:
    """Write down one row's outcome (in the dispatcher's transaction)."""
    delivery = db.session.get_one(Delivery, row["id"])
    if delivery.status != DeliveryStatus.SENDING:
        return
    delivery.updated_at = now
    if not result["ok"]:
        delivery.error = result["error"][:300]
        if result["retryable"] and delivery.attempts < MAX_ATTEMPTS:
            wait = retry_wait(delivery.attempts, result["retry_after"])
            delivery.status, delivery.next_attempt_at = DeliveryStatus.QUEUED, now + wait
        else:
            delivery.status = DeliveryStatus.FAILED
            _settle_many([(delivery, {}, result["error"])])
        return
    delivery.status, delivery.sent_at, delivery.error, delivery.sandbox = DeliveryStatus.SENT, now, None, helpdesk.sandbox
    if row["recipient"] == PARENT:
        delivery.provider_id = result["parent"]
        delivery.status = DeliveryStatus.DELIVERED
        db.session.execute(update(HelpdeskProblem).where(HelpdeskProblem.incident_id == row["incident_id"])
                           .values(ticket_id=result["parent"]))
        record(db.session.get_one(Incident, row["incident_id"]), "helpdesk_parent_created", None,
               {"ticket": result["parent"], "helpdesk": helpdesk.name})
        return
    delivery.provider_id = result["job"]
    if result["done_before"]:
        _mark(delivery.id, result["done_before"], "synced", "done before a restart", now)
    if result["job"] is None:
        delivery.status = DeliveryStatus.DELIVERED
        _maybe_finished(delivery)


def _mark(delivery_id: int, helpdesk_ids: Iterable[str], state: str, reason: str | None, now) -> None:
    """Set the state of this job's tickets named by their helpdesk ids (a job holds at most 100)."""
    wanted = set(helpdesk_ids)
    if not wanted:
        return
    rows = db.session.execute(select(HelpdeskSync.id, Ticket.external_id).join(Ticket, Ticket.id == HelpdeskSync.ticket_id)
                              .where(HelpdeskSync.delivery_id == delivery_id)).all()
    ids = [row_id for row_id, external_id in rows if zendesk_id(external_id) in wanted]
    if ids:
        db.session.execute(update(HelpdeskSync).where(HelpdeskSync.id.in_(ids))
                           .values(state=state, reason=reason, updated_at=now).execution_options(synchronize_session=False))


def _settle_many(settled: list[tuple[Delivery, dict[str, str | None], str | None]]) -> None:
    """Record finished jobs, set-based: each of their pending tickets synced, or failed with the helpdesk's
    reason (the whole job's, when it failed as a whole); then, per action, whether it is all done."""
    now = utcnow()
    by_delivery = {delivery.id: (results, failed) for delivery, results, failed in settled}
    rows = db.session.execute(select(HelpdeskSync.id, HelpdeskSync.delivery_id, Ticket.external_id)
                              .join(Ticket, Ticket.id == HelpdeskSync.ticket_id)
                              .where(HelpdeskSync.delivery_id.in_(list(by_delivery)), HelpdeskSync.state == "pending"))
    changes: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for sync_id, delivery_id, external_id in rows:
        results, failed = by_delivery[delivery_id]
        helpdesk_id = zendesk_id(external_id)
        if failed is not None:
            key: tuple[str, str | None] = ("failed", failed[:300])
        elif helpdesk_id in results:
            error = results[helpdesk_id]
            key = ("synced", None) if error is None else ("failed", error[:300])
        else:
            key = ("failed", "no result from the helpdesk")
        changes[key].append(sync_id)
    for (state, reason), ids in changes.items():
        for start in range(0, len(ids), 5000):
            db.session.execute(update(HelpdeskSync).where(HelpdeskSync.id.in_(ids[start:start + 5000]))
                               .values(state=state, reason=reason, updated_at=now)
                               .execution_options(synchronize_session=False))
    for delivery in {(d.incident_id, d.recipient): d for d, _, _ in settled}.values():
        _maybe_finished(delivery)


def _maybe_finished(delivery: Delivery, *, action: str | None = None) -> None:
    """When the last job of an action is done (and no plan is still being expanded), one timeline
    event says how it went."""
    action = action or delivery.recipient
    pending = db.session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.incident_id == delivery.incident_id, Delivery.purpose == PURPOSE,
        Delivery.recipient.in_((action, PLAN)),
        Delivery.status.in_((DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.SENT)),
        Delivery.id != delivery.id))
    if pending:
        return
    counts = dict(db.session.execute(select(HelpdeskSync.state, func.count()).where(
        HelpdeskSync.incident_id == delivery.incident_id, HelpdeskSync.action == action).group_by(HelpdeskSync.state)
    ).tuples().all())
    record(db.session.get_one(Incident, delivery.incident_id), "helpdesk_synced", None,
           {"action": action, "synced": counts.get("synced", 0), "failed": counts.get("failed", 0)})


def submit_due(app: Flask, *, limit: int = 200, threads: int = 16, parents: bool = False) -> int:
    """Send the helpdesk rows due now, as many as the shared budget allows; how many were sent (with
    `parents`: how many parent tickets were made)."""
    config = app.config
    per_minute = config["ZENDESK_REQUESTS_PER_MINUTE"]
    helpdesk = helpdesk_for(app)
    with app.app_context():
        release_stale_leases(utcnow())
        due = db.session.scalar(select(func.count()).select_from(
            select(Delivery.id).where(_due_clause(), Delivery.status == DeliveryStatus.QUEUED,
                                      Delivery.next_attempt_at <= utcnow()).limit(limit).subquery())) or 0
        db.session.rollback()
        granted = due if helpdesk.sandbox else budget.take(BUDGET, due, per_minute)
        if not granted:
            return 0
        ids = claim(granted, _due_clause())
        if not helpdesk.sandbox and len(ids) < granted:
            budget.give_back(BUDGET, granted - len(ids), per_minute)
        if not ids:
            return 0
        with unsent([ids]):   # the connection dropping here puts them back rather than leaving them to the lease
            rows = [dict(r._mapping) for r in db.session.execute(select(
                Delivery.id, Delivery.incident_id, Delivery.recipient, Delivery.subject, Delivery.text,
                Delivery.headers, Delivery.attempts).where(Delivery.id.in_(ids)).order_by(Delivery.id))]
            made = dict(db.session.execute(select(HelpdeskProblem.incident_id, HelpdeskProblem.ticket_id).where(
                HelpdeskProblem.incident_id.in_({r["incident_id"] for r in rows}))).tuples().all())
            db.session.rollback()
        with ThreadPoolExecutor(max_workers=min(threads, len(rows))) as pool:
            results = list(pool.map(lambda r: _submit(helpdesk, r, made.get(r["incident_id"])), rows))
        now = utcnow()
        for row, result in zip(rows, results, strict=True):
            _record(row, result, helpdesk, now)
        db.session.commit()
        if parents:
            return sum(1 for row, result in zip(rows, results, strict=True) if row["recipient"] == PARENT and result["ok"])
        return len(rows)


def follow_jobs(app: Flask, *, limit: int = 100) -> int:
    """Look at the jobs the helpdesk is running (one call for up to 100); record the finished ones."""
    helpdesk = helpdesk_for(app)
    with app.app_context():
        now = utcnow()
        rows = list(db.session.scalars(select(Delivery).where(
            Delivery.purpose == PURPOSE, Delivery.status == DeliveryStatus.SENT, Delivery.provider_id.is_not(None),
            Delivery.sent_at <= now - (timedelta(0) if helpdesk.sandbox else JOB_POLL_AFTER))
            .order_by(Delivery.sent_at, Delivery.id).limit(limit)))
        if not rows:
            return 0
        if not helpdesk.sandbox:
            # One call reads 100 jobs: while jobs are still being submitted, wait for a full call's worth
            # (or for the oldest to have waited long enough), so following costs about 1 % of the budget.
            busy = db.session.scalar(select(Delivery.id).where(
                Delivery.purpose == PURPOSE, Delivery.status == DeliveryStatus.QUEUED,
                Delivery.next_attempt_at <= now).limit(1)) is not None
            oldest = rows[0].sent_at or now
            if busy and len(rows) < limit and oldest > now - JOB_WAIT_MAX:
                db.session.rollback()
                return 0
            if not budget.take(BUDGET, 1, app.config["ZENDESK_REQUESTS_PER_MINUTE"]):
                return 0
        by_job = {str(row.provider_id): row for row in rows}
        try:
            states = helpdesk.jobs(list(by_job))
        except HelpdeskError as error:
            logger.warning("helpdesk jobs could not be read: %s", error)
            db.session.rollback()
            return 0
        settled: list[tuple[Delivery, dict[str, str | None], str | None]] = []
        for state in states:
            delivery = by_job.get(state.id)
            if delivery is None or not state.done:
                continue
            if helpdesk.sandbox:
                results: dict[str, str | None] = {i: None for i in (delivery.headers or {}).get("ids", [])}
            else:
                results = {r.id: (None if r.ok else (r.error or "failed")) for r in state.results}
            delivery.status = DeliveryStatus.FAILED if state.failed else DeliveryStatus.DELIVERED
            delivery.error = (state.error or "")[:300] or None
            delivery.updated_at = now
            settled.append((delivery, results, (state.error or "job failed") if state.failed else None))
        if settled:
            _settle_many(settled)
        db.session.commit()
        return len(settled)


def run(app: Flask) -> None:
    """The worker's helpdesk step: plans into jobs, follow the jobs (so they are never starved), then send
    what is due — twice when a parent ticket was just made, so its links need not wait a step."""
    expand_plans(app)
    follow_jobs(app)
    if submit_due(app, parents=True):
        submit_due(app)


# Reading ---------------------------------------------------------------------------------------

def sync_view(incident_id: int, *, failures: int = 50) -> dict:
    """How the incident's helpdesk sync stands (the API's and the incident page's figures)."""
    parent = db.session.get(HelpdeskProblem, incident_id)
    linked = db.session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.incident_id == incident_id, Ticket.source == SOURCE)) or 0
    latest = (select(HelpdeskSync.ticket_id, func.max(HelpdeskSync.id).label("id"))
              .where(HelpdeskSync.incident_id == incident_id).group_by(HelpdeskSync.ticket_id).subquery())
    states = dict(db.session.execute(select(HelpdeskSync.state, func.count()).join(latest, latest.c.id == HelpdeskSync.id)
                                     .group_by(HelpdeskSync.state)).tuples().all())
    failed = db.session.execute(select(Ticket.external_id, HelpdeskSync.reason).join(latest, latest.c.id == HelpdeskSync.id)
                                .join(Ticket, Ticket.id == HelpdeskSync.ticket_id)
                                .where(HelpdeskSync.state == "failed").order_by(Ticket.id).limit(failures)).all()
    running = db.session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.incident_id == incident_id, Delivery.purpose == PURPOSE,
        Delivery.status.in_((DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.SENT)))) or 0
    synced, failed_count = states.get("synced", 0), states.get("failed", 0)
    # pending: jobs queued or running, and linked tickets the worker has not turned into jobs yet
    pending = max(states.get("pending", 0), linked - synced - failed_count)
    return {"problem_ticket_id": parent.ticket_id if parent else None, "linked": linked,
            "synced": synced, "pending": pending,
            "failed_count": failed_count,
            "failed": [{"external_id": e, "reason": r} for e, r in failed], "jobs_running": running}


@use_case
def retry_failed(incident: Incident, actor) -> int:
    """Queue again every ticket whose last sync failed, with the same change; how many jobs."""
    latest = (select(HelpdeskSync.ticket_id, func.max(HelpdeskSync.id).label("id"))
              .where(HelpdeskSync.incident_id == incident.id).group_by(HelpdeskSync.ticket_id).subquery())
    rows = db.session.execute(select(HelpdeskSync.action, HelpdeskSync.delivery_id, Ticket.id, Ticket.external_id)
                              .join(latest, latest.c.id == HelpdeskSync.id).join(Ticket, Ticket.id == HelpdeskSync.ticket_id)
                              .where(HelpdeskSync.state == "failed", HelpdeskSync.delivery_id.is_not(None))
                              .order_by(Ticket.id)).all()   # not those that are no Zendesk ticket at all
    groups: dict[tuple[str, int | None], list[tuple[int, str]]] = defaultdict(list)
    for action, delivery_id, ticket_id, external_id in rows:
        groups[(action, delivery_id)].append((ticket_id, external_id))
    stamp, jobs = utcnow().strftime("%Y%m%d%H%M%S%f"), 0
    for (action, delivery_id), tickets in groups.items():
        original = db.session.get(Delivery, delivery_id) if delivery_id else None
        change = TicketChange.from_dict(((original.headers or {}).get("change") or {}) if original else {})
        jobs += queue(incident, action, tickets, change, key=f"retry:{stamp}:{delivery_id}",
                      summary=f"retry {action} of {len(tickets)} tickets")
    if rows:
        record(incident, "helpdesk_retried", actor, {"tickets": len(rows)})
    return jobs
