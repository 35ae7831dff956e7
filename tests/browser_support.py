"""Fixtures for real-browser tests: the app served on a free local port, and Debian's Chromium
driven by Playwright (sync API).

tests/conftest.py registers them once for every test module (a module importing them
itself would start a second Playwright); mark the tests with ``pytest.mark.browser``.
Without /usr/bin/chromium (or the playwright package) the tests are skipped; set REQUIRE_BROWSER=1
to make that a failure instead (CI).
Playwright's bundled browsers are never used: ``playwright install`` needs the internet.
"""

from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
MISSING = f"Debian chromium not installed at {CHROMIUM}: apt-get install chromium"


def _unavailable(reason: str) -> None:
    """Skip the browser tests, or fail them when the environment says a browser is required."""
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def live_server(app):
    """The test app served over real HTTP in a background thread; yields the base URL.

    Function scope: every test gets a fresh server, stopped before conftest empties the tables.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="tocsin-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session (Debian's, not Playwright's download)."""
    if not os.path.exists(CHROMIUM):
        _unavailable(MISSING)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        _unavailable(f"{MISSING} ({error})")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies, no storage) and page per test."""
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
