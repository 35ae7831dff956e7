"""Subscribers hear about public updates once each, in their language; they manage themselves
from a signed link (change components, or leave); maintenance notices carry that link too."""
from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy

import pytest
from sqlalchemy import select

from incident import clock
from incident.catalog import ensure_services
from incident.customers.models import Customer
from incident.extensions import db
from incident.outbox.channels.email import SmtpEmail
from incident.outbox.channels.sandbox import SandboxChannel
from incident.outbox.dispatch import dispatch_due
from incident.outbox.models import Delivery
from incident.status import policy
from incident.status.jobs import status_page

from ..conftest import T0
from ..status_helpers import component, component_ids, incident, update

MANAGE = re.compile(r"http://tocsin\.test(/status/subscription/[\w.-]+)")


def add_customer(app, *, services, email=None, phone=None, channels=("email",), locale="en", opted_out=()):
    with app.app_context():
        customer = Customer(email=email, phone=phone, locale=locale, channels=list(channels), opted_out=list(opted_out))
        customer.services = ensure_services(list(services)) if services else []
        db.session.add(customer)
        db.session.commit()
        return customer.id


def notices(app, purpose="status_update") -> list[Delivery]:
    with app.app_context():
        rows = db.session.scalars(select(Delivery).where(Delivery.purpose == purpose)
                                  .order_by(Delivery.id)).all()
        db.session.expunge_all()
        return list(rows)


def page(api):
    """Components Login (service login), API (service api), Billing (service billing)."""
    component(api, "Login", service="login")
    component(api, "API", service="api")
    component(api, "Billing", service="billing")


def test_a_public_update_reaches_each_follower_once_in_their_language(app, api, frozen, channels):
    page(api)
    fr = add_customer(app, services=["login", "api"], email="claire@example.fr", locale="fr-CA")   # two components
    de = add_customer(app, services=["api"], email="jonas@example.ch", locale="de-CH")
    pt = add_customer(app, services=["login"], email="joao@example.br", locale="pt-BR")          # no Portuguese
    sms = add_customer(app, services=["login"], phone="+393471234567", channels=["sms"], locale="it")
    add_customer(app, services=["billing"], email="other@example.com")                           # not affected
    add_customer(app, services=["login"], email="gone@example.com", opted_out=["email"])          # said stop
    incident_id = incident(api, "Login failing", "SEV2", ["login", "api"])

    first = update(api, incident_id, "Sign-ins fail for some of you.", status="investigating")
    assert first["notify_subscribers"] is True                        # SEV2: on by default
    rows = {r.customer_id: r for r in notices(app)}
    assert set(rows) == {fr, de, pt, sms, *[r.customer_id for r in rows.values() if r.status == "skipped"]}
    assert len(rows) == 5 and len({r.dedupe_key for r in rows.values()}) == 5
    assert (rows[fr].channel, rows[fr].recipient) == ("email", "claire@example.fr")
    assert rows[fr].headers["Content-Language"] == "fr"
    assert rows[fr].subject == "Analyse en cours : Login failing (INC-1)"
    assert "Nous vous présentons nos excuses" in rows[fr].text and "Sign-ins fail for some of you." in rows[fr].text
    assert "Login et API" in rows[fr].text
    assert rows[de].headers["Content-Language"] == "de" and "Es tut uns leid" in rows[de].text
    assert rows[pt].headers["Content-Language"] == "en" and "We are sorry" in rows[pt].text   # pt-BR -> en
    assert (rows[sms].channel, rows[sms].status) == ("sms", "queued")   # the first public update is a milestone
    assert rows[sms].text.startswith("Tocsin: INC-1 In analisi - Login failing.")
    for row in (rows[fr], rows[de], rows[pt]):
        assert MANAGE.search(row.text)
        assert row.headers["List-Unsubscribe"].startswith("<http://tocsin.test/unsubscribe/")
        assert row.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    skipped = [r for r in rows.values() if r.status == "skipped"]
    assert [r.error for r in skipped] == ["no email or SMS to reach them on"]

    dispatch_due(app)
    dispatch_due(app)                                                  # twice: still once each
    assert sorted(to for to, _ in channels["email"].sent) == ["claire@example.fr", "joao@example.br", "jonas@example.ch"]
    assert [to for to, _ in channels["sms"].sent] == ["+393471234567"]

    update(api, incident_id, "Cause found.", status="identified")     # not a milestone: no SMS
    second = [r for r in notices(app) if r.id not in {row.id for row in rows.values()}]
    by_customer = {r.customer_id: r for r in second}
    assert len(second) == 5 and by_customer[sms].status == "skipped"
    assert "SMS carries only" in by_customer[sms].error
    assert "Voici les dernières nouvelles" in by_customer[fr].text

    update(api, incident_id, "Fixed.", status="resolved")              # the resolution is a milestone
    resolved = {r.customer_id: r for r in notices(app)[-5:]}
    assert resolved[sms].status == "queued" and "Risolto" in resolved[sms].text
    assert "est résolu" in resolved[fr].text


def test_internal_updates_and_unticked_ones_notify_nobody(app, api, frozen):
    page(api)
    add_customer(app, services=["login"], email="a@example.com")
    sev1 = incident(api, "Login down", "SEV1", ["login"])
    assert update(api, sev1, "Looking.", public=False)["notify_subscribers"] is False
    assert notices(app) == []
    response = api.post(f"/api/v1/incidents/{sev1}/updates",
                        json={"message": "Not yet", "public": True, "notify_subscribers": False})
    assert response.status_code == 201 and response.get_json()["update"]["notify_subscribers"] is False
    assert notices(app) == []
    sev3 = incident(api, "Slow login", "SEV3", ["login"])
    assert update(api, sev3, "Slow.")["notify_subscribers"] is False      # SEV3: off by default
    assert notices(app) == []
    response = api.post(f"/api/v1/incidents/{sev3}/updates", json={"message": "Worse", "notify_subscribers": True})
    assert response.get_json()["update"]["notify_subscribers"] is True
    assert [r.recipient for r in notices(app)] == ["a@example.com"]
    timeline = api.get(f"/api/v1/incidents/{sev3}/timeline").get_json()["items"]
    assert [e["data"]["notify_subscribers"] for e in timeline if e["kind"] == "update_posted"] == [False, True]
    assert api.post(f"/api/v1/incidents/{sev3}/updates",
                    json={"message": "x", "notify_subscribers": "maybe"}).status_code == 422


def test_staff_marked_components_reach_their_followers(app, api, frozen):
    page(api)
    billing = add_customer(app, services=["billing"], email="b@example.com")
    incident_id = incident(api, "Login down", "SEV2", ["login"])
    ids = component_ids(api)
    response = api.put(f"/api/v1/incidents/{incident_id}/status-impact",
                       json={"components": {str(ids["Billing"]): "degraded_performance"}})
    assert response.status_code == 200, response.get_json()
    update(api, incident_id, "Billing slow too.")
    assert [r.customer_id for r in notices(app)] == [billing]
    assert "Login et Billing" not in notices(app)[0].text and "Login and Billing" in notices(app)[0].text


def test_every_email_says_its_language_on_the_wire(app, api, frozen, smtp_server):
    page(api)
    add_customer(app, services=["login"], email="claire@example.fr", locale="fr-FR")
    add_customer(app, services=["login"], email="ana@example.es", locale="es-MX")
    add_customer(app, services=["login"], email="ned@example.nl", locale="nl")
    update(api, incident(api, "Login down", "SEV1", ["login"]), "Looking.")
    email = SmtpEmail(smtp_server.host, smtp_server.port, mail_from="status@tocsin.test")
    app.extensions["tocsin_channels"] = {"email": email, **{n: SandboxChannel(n) for n in ("sms", "slack", "ticket")}}
    try:
        dispatch_due(app)
    finally:
        app.extensions.pop("tocsin_channels", None)
    received = {mail.rcpt_tos[0]: message_from_bytes(mail.content, policy=email_policy.default)
                for mail in smtp_server.received}
    assert {to: m["Content-Language"] for to, m in received.items()} == {
        "claire@example.fr": "fr", "ana@example.es": "es", "ned@example.nl": "en"}
    assert received["ana@example.es"]["Subject"].startswith("En investigación")
    assert received["ana@example.es"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_maintenance_notices_carry_the_manage_link_and_their_language(app, api, frozen):
    component(api, "API", service="api")
    add_customer(app, services=["api"], email="jonas@example.de", locale="de-AT")
    add_customer(app, services=["api"], phone="+393471234567", channels=["sms"], locale="es")
    ids = component_ids(api)
    response = api.post("/api/v1/status/maintenances", json={
        "name": "DB upgrade", "components": [ids["API"]], "notify_minutes_before": 60,
        "scheduled_for": (T0 + timedelta(hours=2)).isoformat(), "scheduled_until": (T0 + timedelta(hours=3)).isoformat()})
    assert response.status_code == 201
    clock.advance(hours=1, minutes=1)
    status_page(app)
    email, sms = notices(app, "maintenance")
    assert email.subject == "Geplante Wartung: DB upgrade" and "22. Nov. 2026 11:00 UTC" in email.text
    assert email.headers["Content-Language"] == "de" and email.headers["List-Unsubscribe"].startswith("<http://")
    assert MANAGE.search(email.text) and "Wählen Sie, worüber Sie informiert werden möchten" in email.text
    assert MANAGE.search(sms.text) and sms.headers is None


# --- the subscriber's own page -------------------------------------------------------------------

def _manage_path(app, api, customer_email):
    update(api, incident(api, "Login down", "SEV1", ["login"]), "Looking.")
    row = next(r for r in notices(app) if r.recipient == customer_email)
    return MANAGE.search(row.text).group(1)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_manage_page_changes_components_and_leaves(app, api, client, frozen):
    page(api)
    customer_id = add_customer(app, services=["login", "api", "crm-only"], email="claire@example.fr", locale="fr")
    path = _manage_path(app, api, "claire@example.fr")
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and '<html lang="fr">' in html and "Vos mises à jour" in html
    assert "no-store" in response.headers["Cache-Control"]
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "form-action 'self'" in csp and "unsafe-inline" not in csp
    assert "<script" not in html and "style=" not in html
    ids = component_ids(api)
    assert re.findall(r'value="(\d+)" checked', html) == [str(ids["Login"]), str(ids["API"])]

    # no CSRF token: refused, nothing changes
    assert client.post(path, data={"action": "save", "components": [str(ids["Billing"])]}).status_code == 400
    token = _csrf(html)
    response = client.post(path, data={"csrf_token": token, "action": "save", "components": [str(ids["Billing"])]})
    assert response.status_code == 200 and "est enregistré" in response.get_data(as_text=True)
    with app.app_context():
        assert [s.name for s in db.session.get(Customer, customer_id).services] == ["billing", "crm-only"]
    response = client.post(path, data={"csrf_token": token, "action": "save"})
    assert response.status_code == 422 and "Cochez au moins un composant" in response.get_data(as_text=True)
    assert client.post(path, data={"csrf_token": token, "action": "save", "components": ["999"]}).status_code == 422

    update(api, incident(api, "Billing down", "SEV1", ["billing"]), "Looking.")
    queued = [r for r in notices(app) if r.status == "queued" and r.recipient == "claire@example.fr"]
    response = client.post(path, data={"csrf_token": token, "action": "leave"})
    assert response.status_code == 200 and "vous ne recevrez plus" in response.get_data(as_text=True)
    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        assert [s.name for s in customer.services] == ["crm-only"] and customer.opted_out == ["email"]
        states = {r.id: r.status for r in db.session.scalars(select(Delivery).where(
            Delivery.id.in_([r.id for r in queued])))}
    assert set(states.values()) == {"cancelled"}                      # what was queued for them does not go


def test_a_tampered_or_foreign_link_is_refused(app, api, client, frozen):
    page(api)
    customer_id = add_customer(app, services=["login"], email="a@example.com")
    path = _manage_path(app, api, "a@example.com")
    token = path.rsplit("/", 1)[1]
    body, _, signature = token.rpartition(".")
    forged = f"{body}.{signature[:-2]}{'AA' if not signature.endswith('AA') else 'BB'}"
    for bad in (forged, "nonsense", body):
        response = client.get(f"/status/subscription/{bad}", headers={"Accept-Language": "de"})
        assert response.status_code == 404 and "Dieser Link ist nicht gültig" in response.get_data(as_text=True)
    from incident.customers.links import unsubscribe_token
    with app.app_context():
        unsubscribe = unsubscribe_token(customer_id, "email")   # signed, but for another purpose
    assert client.get(f"/status/subscription/{unsubscribe}").status_code == 404
    assert client.post(f"/status/subscription/{forged}", data={"action": "leave"}).status_code in (400, 404)
    with app.app_context():
        assert db.session.get(Customer, customer_id).opted_out == []


def test_the_unsubscribe_page_speaks_the_customers_language_and_links_to_the_manage_page(app, client, frozen):
    from incident.customers.links import unsubscribe_token
    customer_id = add_customer(app, services=[], email="ana@example.es", locale="es-AR")
    with app.app_context():
        token = unsubscribe_token(customer_id, "email")
    html = client.get(f"/unsubscribe/{token}").get_data(as_text=True)
    assert '<html lang="es">' in html and "¿Dejar de recibir actualizaciones" in html
    assert re.search(r'href="http://tocsin\.test/status/subscription/[\w.-]+" id="manage-link"', html)


def test_the_update_form_ticks_notify_subscribers_for_major_incidents(app, api, client, make_user, frozen):
    from ..helpers import logged_in
    from ..web_helpers import post_form

    page(api)
    add_customer(app, services=["login"], email="a@example.com")
    sev2 = incident(api, "Login down", "SEV2", ["login"])
    sev4 = incident(api, "Login slow", "SEV4", ["login"])
    logged_in(client, make_user)
    box = re.compile(r'<input type="checkbox" name="notify_subscribers" id="notify-subscribers" ?(checked)?>')
    assert box.search(client.get(f"/incidents/{sev2}").get_data(as_text=True)).group(1) == "checked"
    assert box.search(client.get(f"/incidents/{sev4}").get_data(as_text=True)).group(1) is None
    form = {"status": "investigating", "message": "Looking", "public": "on"}
    post_form(client, f"/incidents/{sev2}/updates", form, page=f"/incidents/{sev2}")   # unticked by the lead
    assert notices(app) == []
    post_form(client, f"/incidents/{sev4}/updates", {**form, "notify_subscribers": "on"}, page=f"/incidents/{sev4}")
    assert [r.recipient for r in notices(app)] == ["a@example.com"]


def test_staff_see_the_subscription_link_masked_in_the_outbox(app, api, client, make_user, frozen, channels):
    from ..helpers import logged_in

    page(api)
    add_customer(app, services=["login"], email="a@example.com")
    path = _manage_path(app, api, "a@example.com")
    dispatch_due(app)
    logged_in(client, make_user, role="lead", email="reader@example.com")
    outbox = client.get("/outbox").get_data(as_text=True)
    assert "/status/subscription/…" in outbox and path not in outbox
    assert client.get("/status/subscription/…").status_code == 404


@pytest.mark.parametrize("first, status, previous, milestone", [
    (True, "investigating", "investigating", True), (False, "identified", "investigating", False),
    (False, "monitoring", "monitoring", False), (False, "resolved", "monitoring", True),
    (False, "investigating", "resolved", True), (False, "resolved", "resolved", False)])
def test_milestones(first, status, previous, milestone):
    assert policy.is_milestone(first_public=first, status=status, previous_status=previous) is milestone


def test_the_channel_a_subscriber_is_told_on():
    both = {"email": "a@example.com", "sms": "+393471234567"}
    assert policy.subscriber_channel(["slack", "sms", "email"], [], both, sms_allowed=True) == ("sms", "")
    assert policy.subscriber_channel(["sms", "email"], [], both, sms_allowed=False) == ("email", "")
    assert policy.subscriber_channel(["sms"], [], both, sms_allowed=False)[0] is None
    assert policy.subscriber_channel(["email"], ["email"], both, sms_allowed=True)[0] is None
    assert policy.subscriber_channel(["email", "sms"], [], {"sms": "+393471234567"}, sms_allowed=True) == ("sms", "")
