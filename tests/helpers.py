"""Helpers the test modules share: build requests, seed data, read results (fixtures live in fixtures.py)."""
from __future__ import annotations

import itertools
import subprocess
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from twilio.request_validator import RequestValidator

from incident import clock, worker
from incident.broadcast.sender import dispatch_broadcasts
from incident.broadcast.service import prepare_due
from incident.catalog import Service
from incident.customers.models import Customer
from incident.extensions import db
from incident.outbox.models import Delivery

from .factories import ticket
from .web_helpers import login

AMY = "+393471111111"
PASSWORD = "correct horse battery"
_SIDS = itertools.count(1)


DECLARE = {"title": "Login failing for EU customers", "severity": "SEV1",
           "summary": "5xx on /login since 09:12", "services": ["login", "api"], "mode": "tiered"}


def declare(api, **overrides):
    response = api.post("/api/v1/incidents", json={**DECLARE, **overrides})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def logged_in(client, make_user, role="lead", email="ana@example.com"):
    make_user(email, role=role, password=PASSWORD)
    login(client, email, PASSWORD)
    return client


def ingest(api, body):
    response = api.post("/api/v1/tickets", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


POLICY = {"levels": [
    {"name": "L1", "targets": [{"user": "amy@example.com"}], "ack_timeout_seconds": 3600, "channels": ["slack", "sms"]},
    {"name": "L2", "targets": [{"rotation": "support-l2"}], "ack_timeout_seconds": 14400,
     "channels": ["slack", "sms", "email"]},
    {"name": "engineering", "targets": [{"rotation": "backend-oncall"}], "ack_timeout_seconds": 900,
     "channels": ["slack", "sms"]}], "repeat": 1}


def deliveries(app, **where):
    """The outbox's pages (and, with purpose=…, other rows), oldest first."""
    where.setdefault("purpose", "page")
    with app.app_context():
        query = select(Delivery.channel, Delivery.recipient, Delivery.status, Delivery.purpose).order_by(Delivery.id)
        for key, value in where.items():
            query = query.where(getattr(Delivery, key) == value)
        return db.session.execute(query).all()


SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


TWILIO_TOKEN = "twilio-test-token"


PUBLIC = "https://tocsin.example.com"


def escalation(api, incident_id) -> dict:
    return api.get(f"/api/v1/incidents/{incident_id}/escalation").get_json()


def timeline(api, incident_id) -> list[dict]:
    return api.get(f"/api/v1/incidents/{incident_id}/timeline").get_json()["items"]


def add_customers(app, *specs: dict) -> list[int]:
    """Customers straight into the database: {"name", "email", "phone", "slack", "locale", "segment", "channels",
    "services", "opted_out"}."""
    ids = []
    with app.app_context():
        for spec in specs:
            services = [db.session.scalar(select(Service).where(Service.name == name)) or Service(name=name)
                        for name in spec.get("services", [])]
            customer = Customer(name=spec.get("name", ""), email=spec.get("email"), phone=spec.get("phone"),
                                slack_channel=spec.get("slack"), locale=spec.get("locale", "en"),
                                segment=spec.get("segment"), channels=spec.get("channels", []),
                                opted_out=spec.get("opted_out", []), services=services)
            db.session.add(customer)
            db.session.flush()
            ids.append(customer.id)
        db.session.commit()
    return ids


def run_worker(app):
    """What the worker's broadcast job does: prepare due sends, then send until nothing is due."""
    with app.app_context():
        prepared = prepare_due()
    return prepared, dispatch_broadcasts(app, budget=30)


def broadcast(api, incident_id, **body):
    body.setdefault("kind", "apology")
    body.setdefault("channels", ["email", "sms", "slack"])
    body.setdefault("audience", {"service_subscribers": True})
    return api.post(f"/api/v1/incidents/{incident_id}/broadcasts", json=body)


ROOT = Path(__file__).resolve().parent.parent


def wait_for(app, proc, condition, what, ticks=150):
    """Poll the database while the worker runs (each wait also checks it has not died)."""
    for _ in range(ticks):
        try:
            proc.wait(timeout=0.2)
            raise AssertionError(f"worker exited while waiting for {what}: {proc.stderr.read()}")
        except subprocess.TimeoutExpired:
            pass
        with app.app_context():
            done = condition()
            db.session.remove()
        if done:
            return
    raise AssertionError(f"timed out waiting for {what}")


def inbound(body: str, sender: str = AMY, *, sid: str | None = None) -> dict:
    """The parameters Twilio posts for an incoming SMS: each message its own Message SID."""
    sid = sid or f"SM{next(_SIDS):032x}"
    return {"ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0",
            "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received",
            "FromCity": "", "Body": body, "FromCountry": "IT", "To": "+15005550006", "ToZip": "",
            "NumSegments": "1", "MessageSid": sid, "AccountSid": "AC" + "0" * 32,
            "From": sender, "ApiVersion": "2010-04-01"}


def receipt(sid: str, status: str, error_code: str | None = None) -> dict:
    """The parameters of a status callback for an outbound message."""
    params = {"SmsSid": sid, "SmsStatus": status, "MessageStatus": status, "To": AMY, "MessageSid": sid,
              "AccountSid": "AC" + "0" * 32, "From": "+15005550006", "ApiVersion": "2010-04-01"}
    if error_code:
        params["ErrorCode"] = error_code
    return params


def post(hooks, path: str, params: dict, *, url: str | None = None, token: str = TWILIO_TOKEN):
    signature = RequestValidator(token).compute_signature(url or f"{PUBLIC}{path}", params)
    return hooks.post(path, data=params, headers={"X-Twilio-Signature": signature})


def log_in(page, email, password):
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Log in").click()


def seed_flood(app, api):
    """140 tickets: 40 quiet `billing` ones over the last day and 100 `login` ones in ten minutes; the
    flood detector has run, so `login` is a current flood signal."""
    base = clock.utcnow()
    quiet = [ticket(n, tags=["billing"], created_at=(base - timedelta(hours=20) + timedelta(minutes=30 * n)).isoformat())
             for n in range(40)]
    flood = [ticket(1000 + n, tags=["login"],
                    created_at=(base - timedelta(minutes=10) + timedelta(seconds=5 * n)).isoformat())
             for n in range(100)]
    ingest(api, {"tickets": quiet + flood})
    worker.flood_signals(app)
