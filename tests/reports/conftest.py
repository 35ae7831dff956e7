"""The reports tests' fixture: incidents built through the real API, worker and dispatcher on a moved
clock, so every time and count is known in advance (the expected figures are worked out by hand in
test_report_figures.py).

T0 is Sunday 2026-11-22 09:00 UTC, the last day of ISO week 2026-W47.

  A  SEV1 login+api, tiered   T0      escalated +1m; internal update +5m; public +15m; L1 breached +61m
                                      (L2 paged); acknowledged +70m; resolved +3h. Tickets: login eu,
                                      login, billing eu
  E  SEV4                     T0+30m  merged into A at +31m (counted in A, not on its own)
  B  SEV2 login               T0+1d   acknowledged +10m though nobody was paged; public +30m; resolved
                                      +1h, reopened +2h, resolved again +5h. Tickets: login, login mobile
  C  SEV3 billing             T0+2d   nothing else: never acknowledged, still open, no tickets
  D  SEV1 api, swarm          T0+3d   swarm +0 (L1, L2, engineering at once, 15 min each); all three
                                      breached +15m and paged again (round 1); acknowledged +20m;
                                      broadcast +25m (see below); public update +40m; resolved +2h.
                                      Tickets: api eu
  F  SEV2 login               T0-100d outside the period of the tests

D's broadcast (channels email, sms, slack; the subscribers of `api`): Ada (email, then SMS) bounces on
email and falls back to SMS, where the first try fails for now and a retry sends it; Bruno (SMS only)
fails for good; Acme (Slack) sent; Carla (email) sent; Dev (opted out of email) gets SMS,
and Twilio then reports it delivered.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from incident import clock, worker
from incident.extensions import db
from incident.integrations.twilio import record_receipt
from incident.outbox.channels import SendResult
from incident.outbox.models import Delivery

from ..conftest import T0
from ..factories import ticket
from ..helpers import add_customers, broadcast, declare, ingest, run_worker

PERIOD = {"since": "2026-11-20", "until": "2026-11-30"}


class FailingFor:
    """A channel that fails for good for some addresses, once for now (retryable) for others, and
    sends the rest to the sandbox."""

    sandbox = True

    def __init__(self, inner, failing, transient=()):
        self.inner, self.failing, self.name = inner, set(failing), inner.name
        self.transient = dict.fromkeys(transient, 1)

    def send(self, to, message):
        if to in self.failing:
            return SendResult(ok=False, error="550 mailbox unavailable" if self.name == "email" else "21610")
        if self.transient.get(to):
            self.transient[to] -= 1
            return SendResult(ok=False, error="503 try later", retryable=True)
        return self.inner.send(to, message)


def at(**delta) -> None:
    """Move the frozen clock to T0 + delta (forward or back)."""
    clock.freeze(T0 + timedelta(**delta))


def update(api, incident_id, status=None, message="", public=True):
    response = api.post(f"/api/v1/incidents/{incident_id}/updates",
                        json={"status": status, "message": message or "An update.", "public": public})
    assert response.status_code in (200, 201), response.get_json()


def link(api, incident_id, *numbers):
    response = api.post(f"/api/v1/incidents/{incident_id}/tickets",
                        json={"external_ids": [f"ZD-{n}" for n in numbers], "source": "email"})
    assert response.status_code == 200 and response.get_json()["linked"] == len(numbers), response.get_json()


@pytest.fixture
def scenario(app, api, api_as, setup, channels):
    """The incidents above, built in order on the moved clock; their ids by letter."""
    engineer = api_as("engineer", "eve@example.com")
    ids: dict[str, int] = {}
    at(days=-100)
    ids["F"] = declare(api, title="Old outage", severity="SEV2", services=["login"])["id"]
    at()
    ids["A"] = declare(api, title="Login down", severity="SEV1", services=["login", "api"])["id"]
    ingest(api, {"tickets": [ticket(1, source="email", tags=["login", "eu"]), ticket(2, source="email", tags=["login"]),
                             ticket(3, source="email", tags=["billing", "eu"]), ticket(4, source="email", tags=["login"]),
                             ticket(5, source="email", tags=["login", "mobile"]),
                             ticket(6, source="email", tags=["api", "eu"])]})
    link(api, ids["A"], 1, 2, 3)
    at(minutes=1)
    assert api.post(f"/api/v1/incidents/{ids['A']}/escalate", json={}).status_code == 200
    at(minutes=5)
    update(api, ids["A"], "identified", "Internal: the EU gateway?", public=False)
    at(minutes=15)
    update(api, ids["A"], "identified", "We are looking into failed logins.")
    at(minutes=30)
    ids["E"] = declare(api, title="Login again", severity="SEV4", services=[])["id"]
    at(minutes=31)
    assert api.post(f"/api/v1/incidents/{ids['E']}/merge", json={"into": ids["A"]}).status_code == 200
    at(minutes=61)
    worker.tick(app)                                   # L1's hour is up: breached, L2 paged
    at(minutes=70)
    assert engineer.post(f"/api/v1/incidents/{ids['A']}/acknowledge").get_json()["outcome"] == "first"
    at(hours=3)
    update(api, ids["A"], "resolved", "Fixed.")

    at(days=1)
    ids["B"] = declare(api, title="Slow logins", severity="SEV2", services=["login"])["id"]
    link(api, ids["B"], 4, 5)
    at(days=1, minutes=10)
    assert engineer.post(f"/api/v1/incidents/{ids['B']}/acknowledge").get_json()["outcome"] == "first"
    at(days=1, minutes=30)
    update(api, ids["B"], "identified", "Logins are slow.")
    at(days=1, hours=1)
    update(api, ids["B"], "resolved", "Fixed.")
    at(days=1, hours=2)
    update(api, ids["B"], "investigating", "Back again.")
    at(days=1, hours=5)
    update(api, ids["B"], "resolved", "Fixed for good.")

    at(days=2)
    ids["C"] = declare(api, title="Invoices late", severity="SEV3", services=["billing"])["id"]

    at(days=3)
    ids["D"] = declare(api, title="API errors", severity="SEV1", services=["api"], mode="swarm")["id"]
    link(api, ids["D"], 6)
    assert api.post(f"/api/v1/incidents/{ids['D']}/escalate", json={}).status_code == 200
    at(days=3, minutes=15)
    worker.tick(app)                                   # the swarm's 15 minutes are up: all breached, round 2
    at(days=3, minutes=20)
    assert engineer.post(f"/api/v1/incidents/{ids['D']}/acknowledge").get_json()["outcome"] == "first"
    at(days=3, minutes=25)
    add_customers(app,
                  {"name": "Ada", "email": "ada@example.com", "phone": "+393471000001", "channels": ["email", "sms"],
                   "services": ["api"]},
                  {"name": "Bruno", "phone": "+393471000002", "channels": ["sms"], "services": ["api"]},
                  {"name": "Acme", "slack": "C0ACME", "channels": ["slack"], "services": ["api"]},
                  {"name": "Carla", "email": "carla@example.com", "channels": ["email"], "services": ["api"]},
                  {"name": "Dev", "email": "dev@example.com", "phone": "+393471000005", "channels": ["email", "sms"],
                   "opted_out": ["email"], "services": ["api"]})
    app.extensions["tocsin_channels"]["email"] = FailingFor(channels["email"], {"ada@example.com"})
    # Ada's email fails for good and moves to SMS, where the first try fails for now and a retry sends it.
    app.extensions["tocsin_channels"]["sms"] = FailingFor(channels["sms"], {"+393471000002"},
                                                          transient={"+393471000001"})
    assert broadcast(api, ids["D"], channels=["email", "sms", "slack"]).status_code == 201
    run_worker(app)
    at(days=3, minutes=26)                             # past the retry's backoff
    run_worker(app)
    with app.app_context():
        sid = db.session.scalar(select(Delivery.provider_id).where(Delivery.recipient == "+393471000005"))
        assert record_receipt(sid, "delivered", None)
    at(days=3, minutes=40)
    update(api, ids["D"], "identified", "A bad deploy; rolled back.")
    at(days=3, hours=2)
    update(api, ids["D"], "resolved", "Fixed.")
    at(days=5)
    return ids
