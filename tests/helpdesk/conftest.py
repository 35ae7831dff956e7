"""The helpdesk tests' fixture: the app wired to the Zendesk stand-in."""
from __future__ import annotations

import pytest

from incident.helpdesk.zendesk import ZendeskHelpdesk

from ..zendesk_stand_in import ZD_EMAIL, ZD_TOKEN
from .support import WEBHOOK_SECRET


@pytest.fixture
def connected(app, zendesk, monkeypatch, frozen):
    """The app talking to the Zendesk stand-in, with a budget that never holds a test back."""
    for key, value in {"ZENDESK_URL": zendesk.url, "ZENDESK_EMAIL": ZD_EMAIL, "ZENDESK_API_TOKEN": ZD_TOKEN,
                       "ZENDESK_WEBHOOK_SECRET": WEBHOOK_SECRET, "ZENDESK_REQUESTS_PER_MINUTE": 60_000}.items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.extensions, "tocsin_helpdesk", ZendeskHelpdesk(zendesk.url, ZD_EMAIL, ZD_TOKEN))
    return zendesk
