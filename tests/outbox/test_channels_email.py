"""The SMTP email channel against a real SMTP server (aiosmtpd) on loopback."""
from __future__ import annotations

import logging
import socket
from email.utils import parsedate_to_datetime

import pytest

from incident.outbox.channels import RenderedMessage, SendResult
from incident.outbox.channels.email import SmtpEmail

from ..stand_ins import closed_port

UNSUBSCRIBE = "<https://tocsin.test/unsubscribe/abc>, <mailto:unsubscribe@tocsin.test>"
MESSAGE = RenderedMessage(
    text="Login is failing for EU customers. We are on it.",
    subject="[INC-42] Login failing — investigating",
    html="<p>Login is failing for <b>EU</b> customers. We are on it.</p>",
    headers={"List-Unsubscribe": UNSUBSCRIBE, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
)


def channel(server, **overrides) -> SmtpEmail:
    options = {"mail_from": "Tocsin Status <status@tocsin.test>", "timeout": 5,
               "local_hostname": "client.test"}
    options.update(overrides)
    return SmtpEmail(server.host, server.port, **options)


def test_send_delivers_multipart_text_and_html_with_headers(smtp_server):
    result = channel(smtp_server).send("ana@customer.test", MESSAGE)

    assert result.ok and not result.retryable
    [mail] = smtp_server.received
    assert mail.mail_from == "status@tocsin.test" and mail.rcpt_tos == ["ana@customer.test"]
    email = mail.parse()
    assert email["Message-ID"] == result.provider_id
    assert result.provider_id.startswith("<") and result.provider_id.endswith("@tocsin.test>")
    assert email["Subject"] == MESSAGE.subject
    assert email["From"] == "Tocsin Status <status@tocsin.test>"
    assert email["To"] == "ana@customer.test"
    assert parsedate_to_datetime(email["Date"]).utcoffset() is not None
    assert email["List-Unsubscribe"].strip() == UNSUBSCRIBE   # long: folded after the name
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.get_content_type() == "multipart/alternative"
    assert email.get_body(("plain",)).get_content().strip() == MESSAGE.text
    assert email.get_body(("html",)).get_content().strip() == MESSAGE.html


def test_text_only_is_a_single_plain_part(smtp_server):
    result = channel(smtp_server).send("bo@customer.test", RenderedMessage(text="Résolu ✓",
                                                                          subject="Réglé ✓"))

    assert result.ok
    email = smtp_server.received[0].parse()
    assert email.get_content_type() == "text/plain"
    assert email["Subject"] == "Réglé ✓" and email.get_content().strip() == "Résolu ✓"


def test_each_message_gets_its_own_message_id(smtp_server):
    email = channel(smtp_server)

    ids = {email.send("ana@customer.test", MESSAGE).provider_id for _ in range(3)}

    assert len(ids) == 3 and len(smtp_server.received) == 3


@pytest.mark.parametrize("reply, expected", [
    ("451 4.3.0 Mailbox busy, try later", SendResult(ok=False, error="smtp 451", retryable=True)),
    ("550 5.1.1 No such user", SendResult(ok=False, error="smtp 550")),
    ("552 5.2.2 Mailbox full", SendResult(ok=False, error="smtp 552")),
])
def test_recipient_refusals_map_by_class(smtp_server, reply, expected):
    smtp_server.handler.reject_rcpt["gone@customer.test"] = reply

    assert channel(smtp_server).send("gone@customer.test", MESSAGE) == expected
    assert smtp_server.received == []


def test_one_refused_address_does_not_spoil_the_next_send(smtp_server):
    smtp_server.handler.reject_rcpt["busy@customer.test"] = "451 4.3.0 try later"
    smtp_server.handler.reject_rcpt["gone@customer.test"] = "550 5.1.1 no such user"
    email = channel(smtp_server)

    assert email.send("busy@customer.test", MESSAGE).retryable
    assert email.send("gone@customer.test", MESSAGE) == SendResult(ok=False, error="smtp 550")
    assert email.send("ana@customer.test", MESSAGE).ok
    assert [m.rcpt_tos for m in smtp_server.received] == [["ana@customer.test"]]


@pytest.mark.parametrize("reply, expected", [
    ("554 5.7.1 Message rejected as spam", SendResult(ok=False, error="smtp 554")),
    ("452 4.3.1 Insufficient system storage", SendResult(ok=False, error="smtp 452",
                                                         retryable=True)),
])
def test_data_refusals_map_by_class(smtp_server, reply, expected):
    smtp_server.handler.reject_data["ana@customer.test"] = reply

    assert channel(smtp_server).send("ana@customer.test", MESSAGE) == expected


def test_connection_refused_is_retryable():
    email = SmtpEmail("127.0.0.1", closed_port(), mail_from="status@tocsin.test", timeout=5,
                      local_hostname="client.test")

    result = email.send("ana@customer.test", MESSAGE)

    assert result == SendResult(ok=False, error="smtp connection refused", retryable=True)


def test_a_server_that_never_greets_times_out_as_retryable():
    with socket.socket() as silent:   # accepts connections (backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        email = SmtpEmail("127.0.0.1", silent.getsockname()[1], mail_from="status@tocsin.test",
                          timeout=0.2, local_hostname="client.test")

        result = email.send("ana@customer.test", MESSAGE)

    assert result == SendResult(ok=False, error="smtp timeout", retryable=True)


def test_starttls_required_but_not_offered_fails_for_good(smtp_server):
    result = channel(smtp_server, starttls=True).send("ana@customer.test", MESSAGE)

    assert result == SendResult(ok=False, error="smtp not supported")
    assert smtp_server.received == []


def test_login_against_a_server_without_auth_fails_for_good(smtp_server):
    email = channel(smtp_server, username="relay", password="s3cret-relay")

    assert email.send("ana@customer.test", MESSAGE) == SendResult(ok=False,
                                                                  error="smtp not supported")


@pytest.mark.parametrize("to", ["", "not-an-address", "a@customer.test, b@customer.test",
                                "Ana <ana@customer.test>", "ana@customer.test\r\nBcc: x@evil.test"])
def test_bad_addresses_are_refused_before_smtp(smtp_server, to):
    assert channel(smtp_server).send(to, MESSAGE) == SendResult(ok=False, error="invalid address")
    assert smtp_server.received == []


@pytest.mark.parametrize("headers", [
    {"X-Note": "fine\r\nBcc: victim@evil.test"},   # header injection
    {"From": "ceo@evil.test"},                     # the channel's own header
])
def test_bad_extra_headers_are_refused(smtp_server, headers):
    message = RenderedMessage(text="x", subject="y", headers=headers)

    assert channel(smtp_server).send("ana@customer.test", message) == SendResult(
        ok=False, error="invalid message")
    assert smtp_server.received == []


def test_logs_hold_neither_the_address_nor_the_password(smtp_server, caplog):
    caplog.set_level(logging.DEBUG)
    smtp_server.handler.reject_rcpt["gone@customer.test"] = "550 5.1.1 no such user"

    channel(smtp_server, password="s3cret-relay").send("gone@customer.test", MESSAGE)

    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("incident."))
    assert "smtp 550" in ours and "@customer.test" in ours
    assert "gone@customer.test" not in ours and "s3cret-relay" not in caplog.text
