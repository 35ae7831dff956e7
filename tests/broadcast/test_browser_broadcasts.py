"""Customer broadcasts in a real browser: compose with the live preview, schedule, and watch the
incident page's progress move as the worker sends, without reloading."""
from __future__ import annotations

import re

import pytest

from incident.broadcast.sender import dispatch_broadcasts
from incident.broadcast.service import prepare_due

from ..helpers import add_customers, declare, log_in

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) these tests
    expect = None

pytestmark = pytest.mark.browser

LEAD = {"email": "ana@example.com", "password": "correct horse battery"}
WORDS = ("Logins fail for some customers in Europe; we have rolled back this morning's deploy "
         "and are watching the error rate closely before we call it fixed.")


@pytest.fixture
def incident(app, api, make_user):
    """A lead who can log in, an incident on `login`, and four customers who subscribe to it."""
    make_user(LEAD["email"], role="lead", password=LEAD["password"])
    created = declare(api, title="Login failing", services=["login"])
    add_customers(
        app,
        {"name": "Ada", "email": "ada@example.com", "channels": ["email"], "services": ["login"]},
        {"name": "Carla", "email": "carla@example.com", "locale": "it", "channels": ["email"], "services": ["login"]},
        {"name": "Bruno", "phone": "+393471000002", "channels": ["sms"], "locale": "it", "services": ["login"]},
        {"name": "Acme <b>Srl</b>", "slack": "C0ACME", "channels": ["slack"], "services": ["login"]},
    )
    return created


def test_compose_preview_schedule_and_watch_it_go(app, page, live_server, incident, channels, console_errors):  # noqa: F811
    reference = f"INC-{incident['id']}"
    page.goto(f"{live_server}/login")
    log_in(page, LEAD["email"], LEAD["password"])
    page.goto(f"{live_server}/incidents/{incident['id']}")
    section = page.locator("#broadcasts")
    expect(section.locator("li.empty")).to_have_text("No broadcasts yet.")
    section.get_by_role("link", name="compose a broadcast").click()
    expect(page.get_by_role("heading", name="Broadcast to customers")).to_be_visible()
    expect(page.locator("#broadcast-form")).to_contain_text("UTC, not your local time")

    # The preview arrives without submitting: every channel in English and Italian, for the whole audience.
    preview = page.locator("#broadcast-preview")
    expect(preview.locator("#preview-audience")).to_have_text("4")
    email = {loc: preview.locator(f"article[data-channel=email][data-locale={loc}]") for loc in ("en", "it")}
    expect(email["en"].locator(".email-subject strong")).to_have_text(f"We're sorry: problems with login ({reference})")
    expect(email["it"].locator(".email-subject strong")).to_have_text(
        f"Vi chiediamo scusa: problemi con login ({reference})")
    body = page.frame_locator("article[data-channel=email][data-locale=en] iframe.email-html")
    expect(body.locator("h1")).to_have_text(f"We're sorry: problems with login ({reference})")
    expect(body.locator("body")).to_contain_text("Hello Ada,")   # as the audience's first customer gets it
    # The email keeps its own styles: the page's CSP allows exactly their hashes, and nothing complains.
    expect(body.locator("body")).to_have_css("background-color", "rgb(244, 244, 245)")
    sms = preview.locator("article[data-channel=sms][data-locale=en]")
    expect(sms.locator(".sms-segments")).to_have_text("1 segment")
    expect(sms.locator(".sms-encoding")).to_have_text("GSM-7")
    slack = preview.locator("article[data-channel=slack][data-locale=en] .slack-preview")
    expect(slack.locator(".slack-header")).to_contain_text("We're sorry: problems with login")

    # Typing changes it live: the lead's words make the SMS longer than one part.
    page.locator("textarea[name=message]").fill(WORDS)
    expect(sms.locator(".sms-text")).to_contain_text(WORDS)
    expect(sms.locator(".sms-segments")).to_have_text(re.compile(r"^[23] segments$"))
    expect(email["it"].locator(".email-text")).to_contain_text(WORDS, use_inner_text=False)

    # Schedule it (send now) and land back in the incident room.
    page.get_by_role("button", name="Schedule broadcast").click()
    expect(page).to_have_url(re.compile(rf"/incidents/{incident['id']}#broadcasts$"))
    expect(page.locator("p.flash.success")).to_contain_text("Apology broadcast scheduled for")
    row = section.locator("li.broadcast")
    expect(row).to_have_count(1)
    expect(row.locator(".b-status")).to_have_text("scheduled")
    expect(row.locator("[data-count=sent]")).to_have_text("0")
    expect(row.get_by_role("button", name="cancel")).to_be_visible()
    page.evaluate("() => { window.__notReloaded = true; }")

    # The worker's job, run here: the page follows the progress by itself.
    with app.app_context():
        assert prepare_due() == 1
    expect(row.locator(".b-status")).to_have_text("sending")
    expect(row.locator("[data-count=queued]")).to_have_text("4")
    assert dispatch_broadcasts(app, budget=30) == 4
    expect(row.locator("[data-count=sent]")).to_have_text("4")
    expect(row.locator("[data-count=queued]")).to_have_text("0")
    expect(row.locator(".b-status")).to_have_text("done")
    expect(row.locator("rect[data-part=sent]")).to_have_attribute("width", "100.00")
    expect(row.get_by_role("button", name="cancel")).to_be_hidden()   # gone out: nothing left to cancel
    assert page.evaluate("() => window.__notReloaded") is True
    assert sorted(to for ch in channels.values() for to, _ in ch.sent) == sorted(
        ["ada@example.com", "carla@example.com", "+393471000002", "C0ACME"])

    # The deliveries, then the sandbox outbox: each message as its customer saw it.
    row.get_by_role("link", name="deliveries").click()
    expect(page.locator("#deliveries tbody tr")).to_have_count(4)
    expect(page.locator("#deliveries")).to_contain_text("Acme <b>Srl</b>")
    page.get_by_role("link", name="Outbox").click()
    carla = page.locator("#outbox li.message", has_text="carla@example.com")
    expect(carla.locator(".email-subject strong")).to_have_text(f"Vi chiediamo scusa: problemi con login ({reference})")
    expect(carla.frame_locator("iframe.email-html").locator("body")).to_contain_text("Buongiorno Carla")
    expect(carla.frame_locator("iframe.email-html").locator("body")).to_have_css("background-color", "rgb(244, 244, 245)")
    acme = page.locator("#outbox li.message", has_text="C0ACME")
    expect(acme.locator(".slack-preview")).to_contain_text("Acme <b>Srl</b>")
    expect(page.locator("#outbox b")).to_have_count(0)   # customer markup shows as text, never as markup

    assert console_errors == []
