"""A support lead finds a customer and changes how they want to hear from us, in a real browser;
a viewer finds the same customer with their contacts masked and no edit form."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from incident.customers.models import Customer
from incident.extensions import db
from incident.validation import mask_phone

from ..helpers import PASSWORD, add_customers

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) these tests
    expect = None

pytestmark = pytest.mark.browser

XSS = "<script>alert(1)</script>"


@pytest.fixture
def customers(app):
    return add_customers(
        app,
        {"name": "Acme Srl", "email": "ops@acme.example", "phone": "+390612345678", "channels": ["email"],
         "segment": "enterprise", "services": ["login"]},
        {"name": XSS, "email": "x@example.com", "channels": ["email"]},
        *({"name": f"Other {n}", "email": f"other{n}@example.com", "channels": ["email"]} for n in range(30)),
    )


def log_in(page, base, email):
    page.goto(f"{base}/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/")


def test_a_lead_searches_then_edits_a_customer(app, page, live_server, make_user, customers, console_errors):
    make_user("sam@example.com", role="lead", password=PASSWORD)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, live_server, "sam@example.com")

    page.locator("header.top nav").get_by_role("link", name="Customers", exact=True).click()
    expect(page.locator("#customer-list tbody tr")).to_have_count(32)
    expect(page.locator("#customer-list")).to_contain_text(XSS)          # shown as text, never run

    page.get_by_label("Search").fill("acme")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#customer-list tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Acme Srl").click()
    expect(page.locator("h1")).to_contain_text("Acme Srl")
    expect(page.locator("#customer-details")).to_contain_text("ops@acme.example")   # a lead sees it whole

    edit = page.locator("#customer-edit")
    edit.get_by_label("Phone").fill("12345")                             # a bad number first
    edit.get_by_role("button", name="Save").click()
    expect(page.locator("#error-phone")).to_contain_text("phone number")
    expect(page.locator("p.flash.error")).to_be_visible()
    with app.app_context():
        assert db.session.scalar(select(Customer.phone).where(Customer.id == customers[0])) == "+390612345678"

    edit.get_by_label("Phone").fill("+39 06 1234 5679")
    edit.get_by_label("Locale").fill("it")
    edit.get_by_label("Channel choice 1").select_option("sms")
    edit.get_by_label("Channel choice 2").select_option("email")
    edit.get_by_label("email", exact=True).check()                       # opted out of email
    edit.get_by_label("Services they subscribe to").fill("login, billing")
    edit.get_by_role("button", name="Save").click()

    expect(page.locator("p.flash.success")).to_contain_text("Saved Acme Srl.")
    expect(page.locator("#customer-channels .tag")).to_have_text(["1. sms", "2. email"])
    expect(page.locator("#customer-services .tag")).to_have_text(["billing", "login"])
    expect(page.locator("#customer-opt-outs")).to_contain_text("Opted out of email")
    with app.app_context():
        customer = db.session.get(Customer, customers[0])
        assert (customer.phone, customer.locale, customer.channels, customer.opted_out) == (
            "+390612345679", "it", ["sms", "email"], ["email"])
    # Chromium reports the refused edit's 422 as a failed load; nothing else may appear.
    assert dialogs == [] and [e for e in console_errors if "status of 422" not in e] == []


def test_a_viewer_finds_a_customer_masked_and_cannot_edit(page, live_server, make_user, customers, console_errors):
    make_user("vic@example.com", role="viewer", password=PASSWORD)
    log_in(page, live_server, "vic@example.com")
    page.goto(f"{live_server}/customers?q=%2B39+06+1234+5678")         # found by phone, in another form
    expect(page.locator("#customer-list tbody tr")).to_have_count(1)
    expect(page.locator("#customer-list")).to_contain_text("o…@acme.example")
    expect(page.locator("#customer-list")).not_to_contain_text("ops@acme.example")
    page.get_by_role("link", name="Acme Srl").click()
    expect(page.locator("#customer-details")).to_contain_text(mask_phone("+390612345678"))
    expect(page.locator("#customer-edit")).to_have_count(0)
    expect(page.locator("#csv-import")).to_have_count(0)
    assert console_errors == []


def test_a_lead_imports_a_csv_and_sees_how_it_went(app, page, live_server, make_user, customers, tmp_path,
                                                     console_errors):
    make_user("sam@example.com", role="lead", password=PASSWORD)
    crm = tmp_path / "crm.csv"
    crm.write_text("external_id,name,email,segment\nCRM-1,Brand New Srl,new@example.com,smb\n"
                   "CRM-2,Acme Srl,ops@acme.example,enterprise\n")
    log_in(page, live_server, "sam@example.com")
    page.goto(f"{live_server}/customers")
    page.locator("#csv-import summary").click()
    page.locator("#csv-import input[type=file]").set_input_files(str(crm))
    page.locator("#csv-import").get_by_role("button", name="Import").click()
    expect(page.locator("h1")).to_have_text("Importing crm.csv")
    expect(page.locator("#import-result")).to_have_text("Imported 2 rows: 1 created, 1 updated, 0 unchanged.")
    expect(page.locator("#import-log li:visible")).to_have_count(1)       # only the latest step shows
    expect(page.locator("#import-log li").last).to_contain_text("Written 2 of 2 rows")
    page.get_by_role("link", name="Back to the customers").click()
    page.get_by_label("Search").fill("brand new")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#customer-list tbody tr")).to_have_count(1)
    expect(page.locator("#customer-list")).to_contain_text("Brand New Srl")
    assert console_errors == []
