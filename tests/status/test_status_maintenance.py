"""Maintenance windows move on their own; subscribers get one notice each, before the start,
through the outbox; the Atom feed parses; the 90-day history colours each day by its worst state."""
from __future__ import annotations

from datetime import timedelta

import feedparser
import pytest
from sqlalchemy import select

from incident import clock
from incident.catalog import Service
from incident.customers.models import Customer
from incident.extensions import db
from incident.outbox.dispatch import dispatch_due
from incident.outbox.models import Delivery
from incident.status.jobs import status_page

from ..conftest import T0
from ..status_helpers import component, component_ids, incident, update


@pytest.fixture(autouse=True)
def _fresh_snapshot(app):
    app.config["STATUS_SNAPSHOT_CHECK_SECONDS"] = 0
    yield
    app.extensions.pop("status_snapshot", None)


def add_customer(app, *, services, email=None, phone=None, channels=("email",), locale="en", opted_out=()):
    with app.app_context():
        customer = Customer(email=email, phone=phone, locale=locale, channels=list(channels), opted_out=list(opted_out))
        customer.services = list(db.session.scalars(select(Service).where(Service.name.in_(services))))
        db.session.add(customer)
        db.session.commit()
        return customer.id


def schedule(api, names, start, end, **extra):
    ids = component_ids(api)
    response = api.post("/api/v1/status/maintenances", json={
        "name": "Database upgrade", "message": "Read-only while we upgrade.",
        "components": [ids[n] for n in names], "scheduled_for": start.isoformat(),
        "scheduled_until": end.isoformat(), **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_window_starts_and_completes_on_its_own_and_notifies_subscribers_once(app, client, api, frozen, channels):
    component(api, "API", service="api")
    component(api, "Billing", service="billing")
    anna = add_customer(app, services=["api"], email="anna@example.com", locale="it")
    bo = add_customer(app, services=["api", "billing"], phone="+393471234567", channels=["sms", "email"])
    add_customer(app, services=["billing"], email="carl@example.com")                       # not affected
    add_customer(app, services=["api"], email="dee@example.com", opted_out=["email"])       # said stop
    start, end = T0 + timedelta(hours=3), T0 + timedelta(hours=4)
    window = schedule(api, ["API"], start, end, notify_minutes_before=60)
    assert window["status"] == "scheduled"

    status_page(app)
    assert count_notices(app) == 0   # too early
    clock.advance(hours=2, minutes=1)   # 59 minutes before the start
    status_page(app)
    status_page(app)                  # twice: still one notice each
    with app.app_context():
        rows = db.session.scalars(
            select(Delivery).where(Delivery.purpose == "maintenance").order_by(Delivery.customer_id)
        ).all()
        assert [(r.customer_id, r.channel, r.recipient) for r in rows] == [
            (anna, "email", "anna@example.com"),
            (bo, "sms", "+393471234567"),
        ]
        assert len({r.dedupe_key for r in rows}) == 2
        assert "Manutenzione programmata" in rows[0].subject and "API" in rows[0].text
        assert "Read-only while we upgrade." in rows[1].text
    dispatch_due(app)
    assert [to for to, _ in channels["email"].sent] == ["anna@example.com"]
    assert [to for to, _ in channels["sms"].sent] == ["+393471234567"]
    assert client.get("/api/v2/summary.json").get_json()["status"]["indicator"] == "none"

    clock.advance(minutes=60)  # the window starts
    status_page(app)
    summary = client.get("/api/v2/summary.json").get_json()
    [m] = summary["scheduled_maintenances"]
    assert m["status"] == "in_progress" and [u["status"] for u in m["incident_updates"]] == ["in_progress", "scheduled"]
    assert {c["name"]: c["status"] for c in summary["components"]} == {"API": "under_maintenance", "Billing": "operational"}
    assert summary["status"] == {"indicator": "maintenance", "description": "Service Under Maintenance"}
    assert "In corso" in client.get("/status?lang=it").get_data(as_text=True)

    clock.advance(hours=1)  # and ends
    status_page(app)
    summary = client.get("/api/v2/summary.json").get_json()
    assert summary["scheduled_maintenances"] == [] and summary["status"]["indicator"] == "none"
    [m] = client.get("/api/v2/scheduled-maintenances.json").get_json()["scheduled_maintenances"]
    assert m["status"] == "completed" and m["resolved_at"] == "2026-11-22T13:01:00.000+00:00"
    assert count_notices(app) == 2


def count_notices(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(Delivery.id).where(Delivery.purpose == "maintenance")).all())


def test_cancelled_window_leaves_the_page_and_sends_nothing(app, client, api, frozen):
    component(api, "API", service="api")
    add_customer(app, services=["api"], email="anna@example.com")
    window = schedule(api, ["API"], T0 + timedelta(hours=3), T0 + timedelta(hours=4))
    assert api.delete(f"/api/v1/status/maintenances/{window['id']}").get_json()["status"] == "cancelled"
    assert api.delete(f"/api/v1/status/maintenances/{window['id']}").status_code == 422
    clock.advance(hours=2, minutes=30)
    status_page(app)
    assert count_notices(app) == 0
    assert client.get("/api/v2/scheduled-maintenances.json").get_json()["scheduled_maintenances"] == []


def test_bad_windows_are_refused(api, frozen):
    component(api, "API", service="api")
    [api_id] = component_ids(api).values()
    base = {
        "name": "x",
        "components": [api_id],
        "scheduled_for": (T0 + timedelta(hours=2)).isoformat(),
        "scheduled_until": (T0 + timedelta(hours=1)).isoformat(),
    }
    assert api.post("/api/v1/status/maintenances", json=base).status_code == 422
    assert (
        api.post("/api/v1/status/maintenances", json={**base, "scheduled_until": "2026-11-22T12:00:00"}).status_code == 422
    )
    assert (
        api.post(
            "/api/v1/status/maintenances", json={**base, "components": [999], "scheduled_until": "2027-01-01T00:00:00+00:00"}
        ).status_code
        == 404
    )
    assert api.get("/api/v1/status/maintenances").get_json()["items"] == []


def test_atom_feed_parses_with_the_public_updates(client, api, frozen):
    component(api, "Login")
    incident_id = incident(api, "Login <failing>", "SEV2", ["login"])
    update(api, incident_id, "Investigating & looking", status="investigating")
    update(api, incident_id, "secret internal", public=False)
    clock.advance(minutes=10)
    update(api, incident_id, "Fixed", status="resolved")
    response = client.get("/status/feed.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10" and feed.feed.title == "Tocsin status"
    [entry] = feed.entries
    assert entry.title == "Login <failing>" and entry.link == f"http://tocsin.test/status#inc{incident_id}"
    assert "Investigating &amp; looking" in entry.content[0].value and "Fixed" in entry.content[0].value
    assert "secret internal" not in response.get_data(as_text=True)


def test_history_bar_per_day_coloured_by_the_worst_state(client, api, frozen):
    clock.freeze(T0 - timedelta(days=10))
    component(api, "Login")
    clock.freeze(T0 - timedelta(days=3))
    minor = incident(api, "Slow logins", "SEV3", ["login"])
    update(api, minor, "Slow", status="investigating")
    clock.advance(hours=2)
    major = incident(api, "Logins down", "SEV1", ["login"])
    update(api, major, "Down", status="investigating")
    clock.advance(hours=1)
    update(api, major, "Back", status="resolved")
    update(api, minor, "Fast again", status="resolved")
    clock.freeze(T0)
    html = client.get("/status").get_data(as_text=True)
    bars = html.split('class="bars"', 1)[1].split("</ol>", 1)[0]
    assert bars.count("<li") == 90
    assert 'class="bar st-critical" data-day="2026-11-19"' in bars  # SEV1 beat the SEV3 that day
    assert 'class="bar st-ok" data-day="2026-11-20"' in bars
    assert 'class="bar st-nodata" data-day="2026-11-11"' in bars  # before the component existed
    assert 'class="bar st-ok" data-day="2026-11-12"' in bars
    assert "Login, last 90 days: 19 Nov 2026: Major outage" in html


def test_calling_off_a_window_recalls_notices_and_tells_who_was_told(app, api, frozen, channels):
    """Anna's notice went out, Bo's was still queued: Bo hears nothing at all, Anna hears it is off, once."""
    component(api, "API", service="api")
    anna = add_customer(app, services=["api"], email="anna@example.com", locale="it")
    bo = add_customer(app, services=["api"], email="bo@example.com")
    window = schedule(api, ["API"], T0 + timedelta(hours=3), T0 + timedelta(hours=4), notify_minutes_before=60)
    clock.advance(hours=2, minutes=1)
    status_page(app)
    with app.app_context():  # Anna's notice is sent; Bo's waits (a provider asked us to retry later)
        db.session.execute(
            Delivery.__table__.update()
            .where(Delivery.customer_id == bo)
            .values(next_attempt_at=clock.utcnow() + timedelta(minutes=5))
        )
        db.session.commit()
    dispatch_due(app)
    assert [to for to, _ in channels["email"].sent] == ["anna@example.com"]

    assert api.delete(f"/api/v1/status/maintenances/{window['id']}").status_code == 200
    clock.advance(minutes=10)
    dispatch_due(app)
    dispatch_due(app)
    assert [to for to, _ in channels["email"].sent] == ["anna@example.com", "anna@example.com"]
    [_, (_, called_off)] = channels["email"].sent
    assert called_off.subject == "Manutenzione annullata: Database upgrade" and "annullata" in called_off.text
    with app.app_context():
        rows = dict(
            db.session.execute(select(Delivery.dedupe_key, Delivery.status).where(Delivery.purpose == "maintenance")).all()
        )
    assert rows == {
        f"maintenance:{window['id']}:customer:{anna}": "sent",
        f"maintenance:{window['id']}:customer:{bo}": "cancelled",
        f"maintenance:{window['id']}:cancelled:{anna}": "sent",
    }


def test_history_shows_each_day_as_it_was_not_as_the_incident_ended(client, api, frozen):
    """A SEV1 declared on the 19th is downgraded to SEV3 on the 20th and resolved on the 21st:
    the 19th stays a major outage, the 20th too (it was one until 10:00), the 21st is degraded.
    Judged by its end alone, all three days would read degraded."""
    clock.freeze(T0 - timedelta(days=10))
    component(api, "Login")
    clock.freeze(T0.replace(hour=10) - timedelta(days=3))
    outage = incident(api, "Logins down", "SEV1", ["login"])
    update(api, outage, "Down", status="investigating")
    clock.advance(days=1)
    assert api.patch(f"/api/v1/incidents/{outage}", json={"severity": "SEV3"}).status_code == 200
    clock.advance(days=1)
    update(api, outage, "Back", status="resolved")
    clock.freeze(T0)
    bars = client.get("/status").get_data(as_text=True).split('class="bars"', 1)[1].split("</ol>", 1)[0]
    assert 'class="bar st-critical" data-day="2026-11-19"' in bars
    assert 'class="bar st-critical" data-day="2026-11-20"' in bars
    assert 'class="bar st-minor" data-day="2026-11-21"' in bars
    assert 'class="bar st-ok" data-day="2026-11-22"' in bars


def test_history_follows_a_component_override_and_a_reopen(app, client, api, frozen):
    clock.freeze(T0 - timedelta(days=10))
    login = component(api, "Login")["id"]
    clock.freeze(T0.replace(hour=10) - timedelta(days=3))
    slow = incident(api, "Slow logins", "SEV3", ["login"])
    update(api, slow, "Slow", status="investigating")
    clock.advance(hours=1)
    response = api.put(f"/api/v1/incidents/{slow}/status-impact", json={"components": {str(login): "operational"}})
    assert response.status_code == 200, response.get_json()
    clock.advance(days=2)  # the 21st: reopened as a partial outage
    api.put(f"/api/v1/incidents/{slow}/status-impact", json={"components": {str(login): "partial_outage"}})
    clock.freeze(T0)
    bars = client.get("/status").get_data(as_text=True).split('class="bars"', 1)[1].split("</ol>", 1)[0]
    assert 'class="bar st-minor" data-day="2026-11-19"' in bars  # an hour of degraded performance
    assert 'class="bar st-ok" data-day="2026-11-20"' in bars  # staff said operational
    assert 'class="bar st-major" data-day="2026-11-21"' in bars
    assert 'class="bar st-major" data-day="2026-11-22"' in bars  # still open
    with app.app_context():
        from incident.status.models import StatusComponentHistory

        assert [
            r.status for r in db.session.scalars(select(StatusComponentHistory).order_by(StatusComponentHistory.id))
        ] == ["degraded_performance", "operational", "partial_outage"]
