"""The outbox shows messages as their recipients got them, except what only the recipient may use:
unsubscribe links, status sign-up confirmation links and SMS codes are masked for every staff
member but admins, and what the masked page shows cannot be used."""
from __future__ import annotations

import json
import re

import pytest

from incident.broadcast import service as broadcasts
from incident.customers.models import Customer
from incident.extensions import db
from incident.outbox.dispatch import dispatch_due

from ..helpers import add_customers, broadcast, declare, logged_in, run_worker
from ..status_helpers import component, component_ids
from ..web_helpers import csrf_from, preview

UNSUBSCRIBE = re.compile(r"/unsubscribe/([\w.~%-]+|…)")
CONFIRM = re.compile(r"/status/subscribe/confirm/([\w.~%-]+|…)")
CODE = re.compile(r"your code is (\S+?)\.")


@pytest.fixture
def sent(app, client, api, frozen, channels):
    """A broadcast on every channel, and an email and an SMS status sign-up, all through the sandbox."""
    incident = declare(api, services=["login"])
    ada, _bruno, _acme = add_customers(
        app,
        {"name": "Ada", "email": "ada@example.com", "channels": ["email"], "services": ["login"]},
        {"name": "Bruno", "phone": "+393471000002", "channels": ["sms"], "services": ["login"]},
        {"name": "Acme", "slack": "C0ACME", "channels": ["slack"], "services": ["login"]})
    assert broadcast(api, incident["id"]).status_code == 201
    run_worker(app)
    component(api, "Login")
    login = component_ids(api)["Login"]
    for channel, address in (("email", "mara@example.com"), ("sms", "+393471234567")):
        token = csrf_from(client, "/status/subscribe")
        response = client.post("/status/subscribe", data={"csrf_token": token, "channel": channel,
                                                          "address": address, "components": [login]})
        assert response.status_code in (200, 303)
        if channel == "sms":
            verify = response.headers["Location"]
    dispatch_due(app)
    recorded = json.dumps([[m.text, m.subject, m.html, m.blocks, m.headers]
                           for channel in channels.values() for _, m in channel.sent])
    tokens = set(UNSUBSCRIBE.findall(recorded))   # every unsubscribe link a customer got
    with app.app_context():
        assert broadcasts.unsubscribe_token(ada, "email") in tokens
    [mail] = channels["email"].messages_to("mara@example.com")
    [sms] = channels["sms"].messages_to("+393471234567")
    client.get("/logout")
    return {"incident": incident["id"], "ada": ada, "unsubscribe_tokens": sorted(tokens),
            "confirm_token": CONFIRM.search(mail.text).group(1),
            "code": CODE.search(sms.text).group(1), "verify": verify}


def opted_out(app, customer_id):
    with app.app_context():
        return db.session.get(Customer, customer_id).opted_out


def ada_unsubscribes(app, client, sent):
    """The customer's own act, through her own link: it works, and it is the thing staff must not undo."""
    with app.app_context():
        path = "/unsubscribe/" + broadcasts.unsubscribe_token(sent["ada"], "email")
    assert client.post(path).status_code == 200
    assert opted_out(app, sent["ada"]) == ["email"]


@pytest.mark.parametrize("role", ["viewer", "agent", "engineer", "lead"])
def test_staff_see_the_outbox_with_secrets_masked_and_cannot_use_what_it_shows(app, client, make_user, sent, role):
    ada_unsubscribes(app, client, sent)
    logged_in(client, make_user, role=role, email=f"reader-{role}@example.com")
    page = client.get("/outbox").get_data(as_text=True)
    for token in sent["unsubscribe_tokens"] + [sent["confirm_token"]]:
        assert token not in page
    assert "/unsubscribe/…" in page and "/status/subscribe/confirm/…" in page
    assert "your code is ••••••." in page and sent["code"] not in page
    assert "to ada@example.com" in page and "Ada" in page          # the rest of each message is still there

    shown_links = set(UNSUBSCRIBE.findall(page))
    assert shown_links == {"…"}
    for shown in shown_links:   # lifting Ada's opt-out through what the page shows fails
        response = client.post(f"/unsubscribe/{shown}", data={"action": "resume"})
        assert response.status_code == 404
    assert opted_out(app, sent["ada"]) == ["email"]
    for shown in set(CONFIRM.findall(page)):
        assert client.get(f"/status/subscribe/confirm/{shown}").status_code == 404
    shown_code = CODE.search(page).group(1)
    response = client.post(sent["verify"], data={"csrf_token": csrf_from(client, "/status/subscribe"),
                                                 "code": shown_code})
    assert response.status_code == 422


def test_admins_see_every_message_whole(app, client, make_user, sent):
    logged_in(client, make_user, role="admin", email="root@example.com")
    page = client.get("/outbox").get_data(as_text=True)
    for token in sent["unsubscribe_tokens"] + [sent["confirm_token"]]:
        assert token in page
    assert f"your code is {sent['code']}." in page
    assert "…" not in "".join(UNSUBSCRIBE.findall(page) + CONFIRM.findall(page))
    assert client.get(f"/status/subscribe/confirm/{sent['confirm_token']}").status_code == 200


def test_the_broadcast_preview_shows_no_customer_link_to_a_lead(app, client, make_user, sent):
    """The compose preview renders the message for the audience's first customer: a lead sees the
    link's shape, not that customer's token."""
    logged_in(client, make_user, role="lead", email="lead2@example.com")
    page = preview(client, sent["incident"]).get_data(as_text=True)
    assert "/unsubscribe/…" in page
    for token in sent["unsubscribe_tokens"]:
        assert token not in page


def test_every_route_that_acts_on_a_token_alone_is_masked_wherever_it_appears(app):
    """The masked paths come from the URL map: the routes' own URLs, in text, HTML or Slack, lose their token."""
    from flask import url_for

    from incident.web.masking import TOKEN_ENDPOINTS, mask_blocks, mask_text

    token = "WzEsImVtYWlsIl0.Lor7Scux-ks_Z75"
    with app.test_request_context():
        for endpoint in TOKEN_ENDPOINTS:
            url = url_for(endpoint, token=token, _external=True)
            for text in (f"Click {url}.", f'<a href="{url}">{url}</a>', f"<{url}|Unsubscribe>"):
                masked = mask_text(text)
                assert token not in masked and masked.count("…") == text.count(token)
            assert token not in str(mask_blocks([{"type": "context", "elements": [{"text": f"<{url}|x>"}]}]))
        assert mask_text("Your code is 042137.", codes=True) == "Your code is ••••••."
        assert mask_text("Your code is 042137.") == "Your code is 042137."   # digits elsewhere are not codes
