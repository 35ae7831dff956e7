"""An admin in a real browser invites a colleague, who sets a password through the one-time link and
logs in; the admin deactivates them and their open page is logged out."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from ..helpers import log_in

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) these tests
    expect = None

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


def test_invite_then_deactivate(page, browser, live_server, make_user, console_errors):
    make_user("ada@example.com", role="admin", password=PASSWORD)
    page.goto(f"{live_server}/login")
    log_in(page, "ada@example.com", PASSWORD)
    page.locator("header.top nav").get_by_role("link", name="Staff").click()
    form = page.locator("#invite-form")
    form.locator("input[name=email]").fill("ben@example.com")
    form.locator("input[name=name]").fill("Ben <i>Engineer</i>")
    form.locator("select[name=role]").select_option("engineer")
    form.get_by_role("button", name="Invite").click()
    link = page.locator("#password-link").input_value()
    expect(page.locator('#staff tr[data-email="ben@example.com"]')).to_contain_text("Ben <i>Engineer</i>")

    ben = browser.new_context().new_page()
    ben.goto(live_server + urlsplit(link).path)
    ben.locator("input[name=password]").fill("bens own long password")
    ben.locator("input[name=confirm]").fill("bens own long password")
    ben.get_by_role("button", name="Set password").click()
    expect(ben.locator(".flash")).to_contain_text("Password set")
    log_in(ben, "ben@example.com", "bens own long password")
    expect(ben.locator("header.top")).to_contain_text("(engineer)")

    page.goto(f"{live_server}/staff")
    page.locator('#staff tr[data-email="ben@example.com"]').get_by_role("button", name="Deactivate").click()
    expect(page.locator(".flash")).to_contain_text("Deactivated ben@example.com")
    expect(page.locator('#staff tr[data-email="ben@example.com"]')).to_contain_text("deactivated")
    ben.reload()
    expect(ben).to_have_url(f"{live_server}/login?next=/")
    assert console_errors == []
    ben.context.close()
