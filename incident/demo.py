"""Demo data for a local trial: staff, and incidents in several states with a real timeline."""
from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import func, select

from . import clock, service
from .auth.models import User
from .auth.service import create_user, get_user_by_email, set_password
from .extensions import db
from .models import Incident
from .roles.service import assign_role

DEMO_LOGIN = "ana@example.com"
STAFF = [
    (DEMO_LOGIN, "Ana Rossi", "admin", "+393471234567"),
    ("bo@example.com", "Bo Lindqvist", "lead", "+46701234567"),
    ("cy@example.com", "Cy Okafor", "engineer", "+447911123456"),
    ("di@example.com", "Di Marino", "agent", None),
    ("eve@example.com", "Eve Park", "viewer", None),
]


def _at(minutes_ago: float):
    """Run the next service call as if it happened `minutes_ago`."""
    clock.freeze(clock.utcnow() - timedelta(minutes=minutes_ago))


def _staff() -> dict[str, User]:
    people = {}
    for email, name, role, phone in STAFF:
        people[email] = get_user_by_email(email) or create_user(email, role=role, name=name, phone=phone)
    return people


def _incidents(people: dict[str, User]) -> None:
    ana, bo, cy, di = (people[e] for e in (DEMO_LOGIN, "bo@example.com", "cy@example.com", "di@example.com"))
    real_now = clock.utcnow()
    try:
        clock.freeze(real_now - timedelta(days=1, hours=3))
        billing = service.declare_incident(bo, title="Invoice emails delayed", severity="SEV2",
                                           summary="Invoice emails queued for 2h+", services=["billing", "email"])
        clock.advance(minutes=25)
        service.post_update(bo, billing.id, status="identified", message="Mail relay quota exhausted.")
        clock.advance(minutes=70)
        service.post_update(bo, billing.id, status="resolved", message="Quota raised; backlog delivered.")

        clock.freeze(real_now - timedelta(hours=5))
        exports = service.declare_incident(bo, title="Slow CSV exports", severity="SEV3",
                                           summary="Exports take 10+ minutes", services=["exports"])
        clock.advance(minutes=40)
        assign_role(bo, exports.id, "technical_lead", user_email=cy.email)
        service.post_update(cy, exports.id, status="monitoring", message="Index added; watching timings.")

        clock.freeze(real_now - timedelta(minutes=42))
        login = service.declare_incident(ana, title="Login failing for EU customers", severity="SEV1",
                                         summary="5xx on /login since 09:12; EU region only.",
                                         services=["login", "api"])
        clock.advance(minutes=3)
        assign_role(ana, login.id, "technical_lead", user_email=cy.email)
        assign_role(ana, login.id, "communications", user_email=bo.email)
        assign_role(ana, login.id, "subject_matter_expert", user_email=di.email)
        clock.advance(minutes=6)
        service.add_note(ana, login.id, "Error rate on auth-service jumped right after the 09:10 deploy.")
        clock.advance(minutes=12)
        service.post_update(ana, login.id, status="identified",
                            message="A faulty auth-service deploy is the cause; rolling it back.")
    finally:
        clock.unfreeze()


def seed() -> tuple[str, str]:
    """Create the demo staff and incidents if missing; (re)set the demo password and return it."""
    people = _staff()
    if not db.session.scalar(select(func.count()).select_from(Incident)):
        _incidents(people)
    password = secrets.token_urlsafe(9)
    set_password(people[DEMO_LOGIN], password)
    return DEMO_LOGIN, password
