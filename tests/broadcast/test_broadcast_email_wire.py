"""Broadcast emails as customers receive them from a real SMTP server (aiosmtpd on loopback), now that the
email channel writes the bytes itself and encodes the lines customers share once: each customer still
gets their own To, name and unsubscribe link (header, text and HTML), in their language, and nothing of
one broadcast or language ends up in another's message."""
from __future__ import annotations

import pytest

from incident import clock
from incident.customers.links import read_unsubscribe_token
from incident.outbox.channels import build_channels

from ..helpers import add_customers, broadcast, declare, run_worker


@pytest.fixture
def smtp(app, smtp_server):  # noqa: F811
    app.extensions["tocsin_channels"] = build_channels({
        "SMTP_HOST": smtp_server.host, "SMTP_PORT": smtp_server.port, "MAIL_FROM": "Status <status@tocsin.test>"})
    yield smtp_server
    app.extensions.pop("tocsin_channels", None)


def received(smtp) -> dict:
    return {mail.rcpt_tos[0]: mail.parse() for mail in smtp.received}


def link_owner(app, url: str) -> tuple[int, str]:
    with app.app_context():
        return read_unsubscribe_token(url.rsplit("/", 1)[1])


def test_customers_in_one_language_each_get_their_own_address_name_and_unsubscribe_link(app, api, smtp, frozen):
    incident = declare(api, services=["login"])
    ada, bea, carla = add_customers(
        app, *({"name": name, "email": f"{name.lower()}@example.com", "locale": locale, "channels": ["email"],
                "services": ["login"]} for name, locale in (("Ada", "en"), ("Bea", "en"), ("Carla", "it"))))
    assert broadcast(api, incident["id"], channels=["email"]).status_code == 201
    run_worker(app)

    mails = received(smtp)
    assert sorted(mails) == ["ada@example.com", "bea@example.com", "carla@example.com"]
    for customer_id, name, to in ((ada, "Ada", "ada@example.com"), (bea, "Bea", "bea@example.com"),
                                  (carla, "Carla", "carla@example.com")):
        email = mails[to]
        text, html = email.get_body(("plain",)).get_content(), email.get_body(("html",)).get_content()
        url = email["List-Unsubscribe"].strip("<>")
        assert email["To"] == to and f" {name}," in text and f" {name}," in html
        assert link_owner(app, url) == (customer_id, "email")
        assert url in text and url in html                    # the body's link is theirs too
        others = {"Ada", "Bea", "Carla"} - {name}
        assert not any(f" {other}," in text + html for other in others)
    assert mails["ada@example.com"]["Content-Language"] == mails["bea@example.com"]["Content-Language"] == "en"
    assert mails["carla@example.com"]["Content-Language"] == "it"
    assert "scus" in mails["carla@example.com"].get_body(("plain",)).get_content().lower()
    assert mails["ada@example.com"]["Subject"] == mails["bea@example.com"]["Subject"]
    assert mails["ada@example.com"]["Subject"] != mails["carla@example.com"]["Subject"]
    assert len({email["Message-ID"] for email in mails.values()}) == 3


def test_a_second_broadcast_in_the_same_run_says_its_own_words(app, api, smtp, frozen):
    incident = declare(api, services=["login"])
    add_customers(app, {"name": "Ada", "email": "ada@example.com", "locale": "en", "channels": ["email"],
                        "services": ["login"]})
    assert broadcast(api, incident["id"], channels=["email"], message="First: we are looking.").status_code == 201
    assert broadcast(api, incident["id"], channels=["email"], kind="status",
                     message="Second: the fix is rolling out.").status_code == 201
    run_worker(app)
    clock.advance(seconds=1)
    run_worker(app)

    bodies = sorted(mail.parse().get_body(("plain",)).get_content() for mail in smtp.received)
    assert len(bodies) == 2
    assert sum("First: we are looking." in body for body in bodies) == 1
    assert sum("Second: the fix is rolling out." in body for body in bodies) == 1
    assert not any("First" in body and "Second" in body for body in bodies)
