"""Demo data for a local trial: staff, and incidents in several states with a real timeline."""
from __future__ import annotations

import random
import secrets
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from . import clock, flows
from .auth.models import User
from .auth.service import create_user, get_user_by_email, set_password
from .broadcast.schemas import BroadcastIn
from .broadcast.service import create_broadcast
from .customers.schemas import CustomerIn
from .customers.upsert import upsert_customers
from .escalation import service as escalation
from .escalation.service import escalate
from .extensions import db
from .incidents import service
from .incidents.models import Incident
from .known_issues.schemas import KnownIssueIn
from .known_issues.service import set_known_issue
from .reviews.schemas import ActionItemIn
from .reviews.service import add_action_item, edit_review
from .roles.service import assign_role
from .status import service as status
from .tickets.ingest import ingest_tickets
from .tickets.policy import TicketFilter
from .tickets.schemas import TicketIn
from .tickets.service import add_link_rule, link_by_filter

DEMO_LOGIN = "ana@example.com"
STAFF = [
    (DEMO_LOGIN, "Ana Rossi", "admin", "+393471234567", "U0DEMOANA"),
    ("bo@example.com", "Bo Lindqvist", "lead", "+46701234567", "U0DEMOBO"),
    ("cy@example.com", "Cy Okafor", "engineer", "+447911123456", "U0DEMOCY"),
    ("di@example.com", "Di Marino", "agent", None, None),
    ("eve@example.com", "Eve Park", "viewer", None, None),
]
POLICY = {"levels": [
    {"name": "L1", "targets": [{"user": "cy@example.com"}], "ack_timeout_seconds": 3600, "channels": ["slack", "sms"]},
    {"name": "L2", "targets": [{"rotation": "support-l2"}], "ack_timeout_seconds": 4 * 3600,
     "channels": ["slack", "sms", "email"]},
    {"name": "engineering", "targets": [{"rotation": "backend-oncall"}], "ack_timeout_seconds": 900,
     "channels": ["slack", "sms"]}], "repeat": 1}


def _at(minutes_ago: float):
    """Run the next service call as if it happened `minutes_ago`."""
    clock.freeze(clock.utcnow() - timedelta(minutes=minutes_ago))


def _staff() -> dict[str, User]:
    people = {}
    for email, name, role, phone, slack_id in STAFF:
        people[email] = get_user_by_email(email) or create_user(email, role=role, name=name, phone=phone,
                                                                slack_id=slack_id)
    return people


def _incidents(people: dict[str, User]) -> None:
    ana, bo, cy, di = (people[e] for e in (DEMO_LOGIN, "bo@example.com", "cy@example.com", "di@example.com"))
    real_now = clock.utcnow()
    try:
        clock.freeze(real_now - timedelta(days=1, hours=3))
        billing = flows.declare_incident(bo, title="Invoice emails delayed", severity="SEV2",
                                           summary="Invoice emails queued for 2h+", services=["billing", "email"])
        clock.advance(minutes=25)
        service.post_update(bo, billing.id, status="identified", message="Mail relay quota exhausted.")
        clock.advance(minutes=70)
        service.post_update(bo, billing.id, status="resolved", message="Quota raised; backlog delivered.")

        clock.freeze(real_now - timedelta(hours=5))
        exports = flows.declare_incident(bo, title="Slow CSV exports", severity="SEV3",
                                           summary="Exports take 10+ minutes", services=["exports"])
        clock.advance(minutes=40)
        assign_role(bo, exports.id, "technical_lead", user_email=cy.email)
        service.post_update(cy, exports.id, status="monitoring", message="Index added; watching timings.")

        clock.freeze(real_now - timedelta(minutes=42))
        login = flows.declare_incident(ana, title="Login failing for EU customers", severity="SEV1",
                                         summary="5xx on /login since 09:12; EU region only.",
                                         services=["login", "api"])
        clock.advance(minutes=3)
        assign_role(ana, login.id, "technical_lead", user_email=cy.email)
        assign_role(ana, login.id, "communications", user_email=bo.email)
        assign_role(ana, login.id, "subject_matter_expert", user_email=di.email)
        clock.advance(minutes=6)
        service.add_note(ana, login.id, "Error rate on auth-service jumped right after the 09:10 deploy.")
        clock.advance(minutes=2)
        escalate(ana, login.id, reason="L1 cannot restore logins; needs the auth team")
        clock.advance(minutes=10)
        service.post_update(ana, login.id, status="identified",
                            message="A faulty auth-service deploy is the cause; rolling it back.")
    finally:
        clock.unfreeze()


SUBJECTS = {
    "login": ["Cannot log in", "Login page shows error 502", "Stuck on the sign-in screen",
              "Password reset does not help", "Non riesco ad accedere"],
    "checkout": ["Payment fails at checkout", "Card declined but money taken", "Checkout spinner never ends"],
    "billing": ["Question about my invoice", "VAT number missing on invoice", "Change billing address"],
}


def _tickets(ana: User) -> None:
    """A login flood linked to the SEV1, an unlinked checkout flood for the detector, steady billing."""
    now, rng = clock.utcnow(), random.Random(42)
    plan = [("login", 240, 45, ["login", "eu"], ["login"]), ("checkout", 60, 10, ["checkout"], ["payments"]),
            ("checkout", 30, 24 * 60, ["checkout"], ["payments"]), ("billing", 80, 24 * 60, ["billing"], ["billing"])]
    items, n = [], 0
    for topic, count, minutes, tags, services in plan:
        for _ in range(count):
            n += 1
            items.append(TicketIn(
                external_id=f"ZD-{100000 + n}", source="zendesk", subject=rng.choice(SUBJECTS[topic]),
                description="Reported through the help centre.", tags=tags, services=services,
                requester={"name": f"Customer {n}", "email": f"customer{n}@example.com"},
                created_at=now - timedelta(minutes=rng.uniform(0, minutes))))
    ingest_tickets(ana, items)
    login = db.session.scalar(select(Incident).where(Incident.title.like("Login failing%")))
    assert login is not None  # declared by _incidents
    link_by_filter(ana, login.id, TicketFilter(tags=("login",), unlinked_only=True))
    add_link_rule(ana, login.id, tags=["login"], text="", services=[])


def _on_call(ana: User) -> None:
    """Two rotations and the default policy: L1 an hour, L2 four hours, then engineering."""
    monday = (clock.utcnow() - timedelta(days=clock.utcnow().weekday())).replace(hour=0, minute=0, second=0,
                                                                                  microsecond=0)
    escalation.put_rotation(ana, "support-l2", users=["bo@example.com", "cy@example.com"], shift_hours=168,
                            starts_at=monday)
    rome = ZoneInfo("Europe/Rome")   # hand-overs at 09:00 in Rome, whatever the season
    last_monday_nine = datetime.combine((monday - timedelta(days=7)).date(), time(9), tzinfo=rome)
    escalation.put_rotation(ana, "backend-oncall", users=["cy@example.com"], shift_hours=24,
                            starts_at=last_monday_nine, timezone="Europe/Rome")
    escalation.put_policy(ana, "default", dict(POLICY))


def _status_page(ana: User) -> None:
    """The public page's components, and a maintenance window tomorrow night on billing."""
    made = {name: status.create_component(ana, name=name, description=text, service=service)
            for name, text, service in (("Login", "Signing in to the web and mobile apps", "login"),
                                        ("Payments", "Card payments at checkout", "payments"),
                                        ("Billing", "Invoices and billing history", "billing"),
                                        ("API", "The public REST API", "api"))}
    start = (clock.utcnow() + timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)
    status.schedule_maintenance(ana, name="Billing database upgrade", scheduled_for=start,
                                scheduled_until=start + timedelta(hours=2), components=[made["Billing"].id],
                                message="Invoices may be unavailable for up to two hours.")


def _broadcasts(ana: User) -> None:
    """Customers with every kind of preference, and an apology to the login flood's requesters."""
    upsert_customers([CustomerIn.model_validate(item) for item in (
        {"external_id": "C-77", "name": "Acme Srl", "email": "ops@acme.example", "phone": "+390612345678",
         "slack_channel": "C0ACME", "locale": "it", "segment": "enterprise", "channels": ["slack", "email"],
         "services": ["login"]},
        {"external_id": "C-78", "name": "Globex", "email": "it@globex.example", "segment": "enterprise",
         "channels": ["email"], "services": ["login", "payments"]},
        {"external_id": "C-79", "name": "Giulia Bianchi", "phone": "+393471234567", "locale": "it",
         "channels": ["sms"], "services": ["login"]},
        {"external_id": "C-80", "name": "Lumière SARL", "email": "support@lumiere.example", "locale": "fr-FR",
         "channels": ["email"], "services": ["login"]},
        {"external_id": "C-81", "name": "Bergbahn AG", "email": "it@bergbahn.example", "locale": "de-CH",
         "channels": ["email"], "services": ["login"]},
    )])
    login = db.session.scalar(select(Incident).where(Incident.title.like("Login failing%")))
    assert login is not None  # declared by _incidents
    create_broadcast(ana, login.id, BroadcastIn(
        kind="apology", channels=["email", "sms", "slack"], next_update_minutes=30,
        audience={"linked_requesters": True, "service_subscribers": True}))


def _learning(people: dict[str, User]) -> None:
    """The resolved SEV2's review half written with two action items (one overdue), its known issue for
    L1, and a public workaround on the open SEV1."""
    bo, cy = people["bo@example.com"], people["cy@example.com"]
    billing = db.session.scalar(select(Incident).where(Incident.title == "Invoice emails delayed"))
    login = db.session.scalar(select(Incident).where(Incident.title.like("Login failing%")))
    assert billing is not None and login is not None  # declared by _incidents
    edit_review(bo, billing.id, sections={
        "summary": "Invoice emails queued for over two hours: the mail relay's daily quota ran out at 08:40.",
        "impact": "About 1,900 customers got their invoice late; none were lost.",
        "root_cause": "The relay quota was sized for last year's volume; month-end invoicing doubled it.",
        "went_well": "- The flood detector caught the tickets within 10 minutes\n- One apology, no duplicates"})
    real_now = clock.utcnow()
    try:
        clock.freeze(real_now - timedelta(days=3))   # filed three days ago, due yesterday: overdue now
        add_action_item(bo, billing.id, ActionItemIn(title="Write the relay-quota runbook step", owner=bo.email,
                                                     due_on=(real_now - timedelta(days=1)).date()))
    finally:
        clock.unfreeze()
    add_action_item(bo, billing.id, ActionItemIn(title="Alert when the relay quota passes 80 %", owner=cy.email,
                                                 due_on=(real_now + timedelta(days=7)).date(),
                                                 url="https://tracker.example/OPS-311"))
    set_known_issue(bo, billing.id, KnownIssueIn(
        symptoms="Invoice emails arrive hours late or not at all; the billing page shows the invoice.",
        cause="The mail relay's daily quota is exhausted.",
        fix="Raise the relay quota; the queued invoices then go out by themselves.",
        workaround="Download the invoice from Billing → History in the meantime.",
        tags=["billing", "invoice"], match_phrases=["invoice email"]))
    set_known_issue(people[DEMO_LOGIN], login.id, KnownIssueIn(
        workaround="The mobile app signs in through another region and works: use it until we are back.",
        symptoms="Error 502 on the login page, EU customers only.", tags=["login", "eu"]))


def seed() -> tuple[str, str]:
    """Create the demo staff and incidents if missing; (re)set the demo password and return it."""
    people = _staff()
    if not db.session.scalar(select(func.count()).select_from(Incident)):
        _on_call(people[DEMO_LOGIN])
        _incidents(people)
        _tickets(people[DEMO_LOGIN])
        _broadcasts(people[DEMO_LOGIN])
        _status_page(people[DEMO_LOGIN])
        _learning(people)
    password = secrets.token_urlsafe(9)
    set_password(people[DEMO_LOGIN], password)
    return DEMO_LOGIN, password


def login_banner(base_url: str, email: str, password: str) -> str:
    """The demo login in a box, so it stands out in a busy console."""
    lines = ["Tocsin demo is ready.", "", f"Log in at {base_url}/login",
             f"  email:    {email}", f"  password: {password}"]
    width = max(len(line) for line in lines)
    rule = "  +" + "-" * (width + 4) + "+"
    return "\n".join(["", rule, *(f"  |  {line.ljust(width)}  |" for line in lines), rule, ""])
