"""The reports' SQL: which incidents a report is about, and each figure as one aggregate statement.

Everything is counted, timed and ranked by the database; Python only receives grouped rows (per
metric and week, per level, per stored tag set, per service, per channel and status). README
("Reports") defines each figure; the comments here say how the SQL reads it.
"""
from __future__ import annotations

from sqlalchemy import Select, and_, case, func, literal, or_, select, true, union_all

from ..catalog import Service
from ..dbutil import like_escape
from ..escalation.models import EscalationStep, IncidentEscalation
from ..incidents.models import Incident, IncidentUpdate, TimelineEvent, incident_services
from ..incidents.visibility import visible
from ..outbox.models import Delivery
from ..tickets.models import Ticket
from ..vocabulary import DeliveryStatus, IncidentStatus, Mode
from .policy import PERCENTILES, ReportFilter
from .sql import first_broadcast_sent, percentiles, seconds_between, week_of, words_of

ACCEPTED = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)   # a provider took the message
ALL_WEEKS = "all"                                            # the scope of the whole period's figures
# Per-incident durations (seconds) and counts, by the names the summary and the CSV use.
DURATIONS = ("time_to_acknowledge", "time_to_resolve", "time_to_first_public_update",
             "time_to_first_customer_message")


def incident_filter(f: ReportFilter) -> list:
    """WHERE clauses on `incidents` selecting the report's incidents (merged duplicates left out:
    they are counted in the incident they were merged into)."""
    clauses = [Incident.declared_at >= f.since, Incident.declared_at < f.until, Incident.merged_into_id.is_(None),
               visible()]   # private incidents only for their members (and admins)
    if f.severities:
        clauses.append(Incident.severity.in_(f.severities))
    if f.service:
        clauses.append(Incident.id.in_(select(incident_services.c.incident_id)
                                       .join(Service, Service.id == incident_services.c.service_id)
                                       .where(Service.name == f.service)))
    if f.tag:   # per incident in the period, its own range of ix_tickets_linked_tags, up to the first match
        clauses.append(select(Ticket.id).where(
            Ticket.incident_id == Incident.id, Ticket.incident_id.is_not(None),
            Ticket.tags.like(f"% {like_escape(f.tag)} %", escape="\\")).exists())
    return clauses


def chosen(f: ReportFilter):
    """The report's incidents, as a CTE."""
    return (select(Incident.id, Incident.declared_at, Incident.acknowledged_at, Incident.status,
                   case((Incident.status == IncidentStatus.RESOLVED, Incident.resolved_at)).label("resolved_at"))
            .where(*incident_filter(f)).cte("chosen"))


def _ids(cte) -> Select:
    return select(cte.c.id)


def first_public_update(incident_id):
    """The incident's first status update posted as public (a correlated subquery: one index lookup
    per incident, and row estimates the planner gets right)."""
    return (select(func.min(IncidentUpdate.created_at))
            .where(IncidentUpdate.incident_id == incident_id, IncidentUpdate.public.is_(True)).scalar_subquery())


def linked_tickets(incident_id):
    """The tickets linked to the incident now."""
    return select(func.count()).where(Ticket.incident_id == incident_id).scalar_subquery()


def times_reopened(incident_id):
    """How often the incident was reopened (status changes from resolved back to investigating, as the
    timeline records them; ix_timeline_events_incident_kind)."""
    return select(func.count()).where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "status_changed",
                                      TimelineEvent.data["reopened"].as_boolean().is_(True)).scalar_subquery()


def paged(incident_id):
    """Whether the incident's escalation paged anyone (a step not skipped)."""
    return select(EscalationStep.id).where(EscalationStep.incident_id == incident_id,
                                           EscalationStep.skipped.is_(None)).exists()


def escalation_mode(incident_id):
    return select(IncidentEscalation.mode).where(IncidentEscalation.incident_id == incident_id).scalar_subquery()


def timed(incidents):
    """Per incident: its times (first public update, first customer message), its linked tickets, times
    reopened, whether it paged anyone and its escalation's mode. One index lookup each."""
    return select(incidents.c.id, incidents.c.declared_at, incidents.c.acknowledged_at, incidents.c.resolved_at,
                  first_public_update(incidents.c.id).label("first_public_update_at"),
                  first_broadcast_sent(incidents.c.id).label("first_customer_message_at"),
                  linked_tickets(incidents.c.id).label("tickets"),
                  times_reopened(incidents.c.id).label("reopened"),
                  case((paged(incidents.c.id), 1), else_=0).label("paged"),
                  escalation_mode(incidents.c.id).label("mode"))


def facts(per_incident) -> dict:
    """The per-incident figures from `timed` columns: week, durations in seconds (NULL: not acknowledged,
    not resolved, no public update, no customer message), tickets; `declared` (0 for every incident),
    `reopened`, `escalated` and `swarm` (1, or NULL when not)."""
    c = per_incident.c
    return {"week": week_of(c.declared_at),
            DURATIONS[0]: seconds_between(c.declared_at, c.acknowledged_at),
            DURATIONS[1]: seconds_between(c.declared_at, c.resolved_at),
            DURATIONS[2]: seconds_between(c.declared_at, c.first_public_update_at),
            DURATIONS[3]: seconds_between(c.declared_at, c.first_customer_message_at),
            "tickets": c.tickets, "declared": literal(0), "reopened": case((c.reopened > 0, 1)),
            "escalated": case((c.paged == 1, 1)), "swarm": case((and_(c.paged == 1, c.mode == Mode.SWARM), 1))}


PER_WEEK = (*DURATIONS, "declared")
OVER_THE_PERIOD = (*DURATIONS, "tickets", "reopened", "escalated", "swarm")


def figures_by_week(f: ReportFilter) -> Select:
    """One statement: per metric and scope — each week (PER_WEEK) and the whole period (OVER_THE_PERIOD,
    scope ALL_WEEKS) — how many incidents have a value, their sum, median and p90; and per service
    of the incidents (metric `service`, scope its name) the same of their linked tickets."""
    timed_ = timed(chosen(f)).subquery("timed")
    per_incident = (select(timed_.c.id, *(value.label(name) for name, value in facts(timed_).items()))
                    .cte("per_incident").prefix_with("MATERIALIZED"))   # computed once, read 15 times
    branches = [select(literal(metric).label("metric"), scope.label("scope"), per_incident.c[metric].label("v"))
                for metrics, scope in ((PER_WEEK, per_incident.c.week), (OVER_THE_PERIOD, literal(ALL_WEEKS)))
                for metric in metrics]
    branches.append(select(literal("service").label("metric"), Service.name.label("scope"),
                           per_incident.c.tickets.label("v"))
                    .join(incident_services, incident_services.c.incident_id == per_incident.c.id)
                    .join(Service, Service.id == incident_services.c.service_id))
    rows = union_all(*branches).subquery("long")
    return percentiles(rows, rows.c.v, [rows.c.metric, rows.c.scope], PERCENTILES)


def escalation_levels(f: ReportFilter) -> Select:
    """Per policy and level: pages (steps not skipped) and SLA breaches (deadlines passed unanswered)."""
    incidents = chosen(f)
    return (select(IncidentEscalation.policy_name.label("policy"), EscalationStep.level_name.label("level"),
                   func.min(EscalationStep.level_index).label("position"),
                   func.sum(case((EscalationStep.skipped.is_(None), 1), else_=0)).label("pages"),
                   func.count(EscalationStep.breached_at).label("breaches"))
            .join(IncidentEscalation, IncidentEscalation.incident_id == EscalationStep.incident_id)
            .where(EscalationStep.incident_id.in_(_ids(incidents)))
            .group_by(IncidentEscalation.policy_name, EscalationStep.level_name))


def tag_sets(f: ReportFilter):
    """The incidents' linked tickets counted per stored tag set (' a b '): one index range per incident
    in ix_tickets_linked_tags, then grouped."""
    incidents = chosen(f)
    return (select(Ticket.tags, func.count().label("n"))
            .where(Ticket.incident_id.is_not(None), Ticket.incident_id.in_(_ids(incidents)), Ticket.tags != " ")
            .group_by(Ticket.tags))


def top_tags(f: ReportFilter, dialect: str, limit: int) -> Select:
    """The tags on most of the incidents' linked tickets, all in the database: each distinct tag set
    (tag_sets) split into its tags and the counts summed. Ties: alphabetical."""
    sets = tag_sets(f).subquery("sets")
    tag = words_of(sets.c.tags, dialect)
    tickets = func.sum(sets.c.n)
    return (select(tag.c.value.label("tag"), tickets.label("tickets")).select_from(sets).join(tag, true())
            .group_by(tag.c.value).order_by(tickets.desc(), tag.c.value).limit(limit))


def fell_back_from():
    """The channel a broadcast message last left for another one, or NULL: when a message fails for
    good and moves to the customer's next channel, the dispatcher records the channel it left
    (broadcast/sender.fall_back, also for twilio's undelivered receipts); retries on the new channel
    leave the mark alone."""
    return Delivery.fell_back_from


def broadcast_outcomes(f: ReportFilter) -> Select:
    """The incidents' broadcast messages per channel (where each is now), status and channel left."""
    incidents = chosen(f)
    left = fell_back_from()
    return (select(Delivery.channel, Delivery.status, left.label("left"), func.count())
            .where(Delivery.incident_id.in_(_ids(incidents)), Delivery.purpose == "broadcast")
            .group_by(Delivery.channel, Delivery.status, left))


def incident_rows(f: ReportFilter) -> Select:
    """One row per incident with its times and figures, newest first (the CSV)."""
    incidents = chosen(f)
    ids = _ids(incidents)
    per_incident = timed(incidents).subquery("per")
    per = select(per_incident, *(value.label(name) for name, value in facts(per_incident).items()
                                 if name in DURATIONS)).subquery("figures")
    steps = (select(EscalationStep.incident_id, func.sum(case((EscalationStep.skipped.is_(None), 1), else_=0))
                    .label("pages"), func.count(EscalationStep.breached_at).label("breaches"))
             .where(EscalationStep.incident_id.in_(ids)).group_by(EscalationStep.incident_id).subquery("steps"))
    left = fell_back_from()
    messages = (select(Delivery.incident_id,
                       func.sum(case((Delivery.status.in_(ACCEPTED), 1), else_=0)).label("sent"),
                       func.sum(case((Delivery.status == DeliveryStatus.DELIVERED, 1), else_=0)).label("delivered"),
                       func.sum(case((Delivery.status == DeliveryStatus.FAILED, 1), else_=0)).label("failed"),
                       func.count(left).label("fell_back"))
                .where(Delivery.incident_id.in_(ids), Delivery.purpose == "broadcast")
                .group_by(Delivery.incident_id).subquery("messages"))
    return (select(Incident.id, Incident.title, Incident.severity, Incident.status, Incident.mode,
                   Incident.declared_at, Incident.acknowledged_at, incidents.c.resolved_at,
                   per.c.first_public_update_at, per.c.first_customer_message_at,
                   *(per.c[name] for name in DURATIONS), per.c.reopened,
                   IncidentEscalation.policy_name.label("escalation_policy"),
                   IncidentEscalation.mode.label("escalation_mode"),
                   func.coalesce(steps.c.pages, 0).label("pages"), func.coalesce(steps.c.breaches, 0).label("breaches"),
                   per.c.tickets.label("linked_tickets"),
                   *(func.coalesce(messages.c[k], 0).label(f"messages_{k}")
                     for k in ("sent", "delivered", "failed", "fell_back")))
            .select_from(incidents.join(Incident, Incident.id == incidents.c.id)
                         .join(per, per.c.id == incidents.c.id)
                         .outerjoin(IncidentEscalation, IncidentEscalation.incident_id == incidents.c.id)
                         .outerjoin(steps, steps.c.incident_id == incidents.c.id)
                         .outerjoin(messages, messages.c.incident_id == incidents.c.id))
            .order_by(Incident.declared_at.desc(), Incident.id.desc()))


def services_of(f: ReportFilter) -> Select:
    """(incident id, service name) of the incidents, for the CSV's services column."""
    incidents = chosen(f)
    return (select(incident_services.c.incident_id, Service.name)
            .join(Service, Service.id == incident_services.c.service_id)
            .where(incident_services.c.incident_id.in_(_ids(incidents))).order_by(Service.name))


# The incidents behind a figure (the page links each figure to the incidents list) -----------------

FIGURES = ("acknowledged", "unacknowledged", "resolved", "unresolved", "public_update", "customer_message",
           "reopened", "escalated", "breached", "swarm", "broadcast")


def behind(f: ReportFilter, figure: str | None, *, level: str | None = None, policy: str | None = None,
           channel: str | None = None) -> list:
    """WHERE clauses on `incidents` for the incidents behind one figure of the report: the same
    per-incident tests the figures are counted with."""
    clauses = incident_filter(f)
    if figure is None:
        return clauses
    steps = [EscalationStep.incident_id == Incident.id]
    if level:
        steps.append(EscalationStep.level_name == level)
    if policy:
        steps.append(select(IncidentEscalation.incident_id).where(
            IncidentEscalation.incident_id == Incident.id, IncidentEscalation.policy_name == policy).exists())
    messages = [Delivery.incident_id == Incident.id, Delivery.purpose == "broadcast"]
    if channel:
        messages.append(or_(Delivery.channel == channel, fell_back_from() == channel))
    tests = {
        "acknowledged": lambda: Incident.acknowledged_at.is_not(None),
        "unacknowledged": lambda: Incident.acknowledged_at.is_(None),
        "resolved": lambda: Incident.status == IncidentStatus.RESOLVED,
        "unresolved": lambda: Incident.status != IncidentStatus.RESOLVED,
        "public_update": lambda: first_public_update(Incident.id).is_not(None),
        "customer_message": lambda: first_broadcast_sent(Incident.id).is_not(None),
        "reopened": lambda: times_reopened(Incident.id) > 0,
        "escalated": lambda: select(EscalationStep.id).where(*steps, EscalationStep.skipped.is_(None)).exists(),
        "breached": lambda: select(EscalationStep.id).where(*steps, EscalationStep.breached_at.is_not(None)).exists(),
        "swarm": lambda: and_(paged(Incident.id), escalation_mode(Incident.id) == Mode.SWARM),
        "broadcast": lambda: select(Delivery.id).where(*messages).exists(),
    }
    return [*clauses, tests[figure]()]
