"""The email channel's own writer (`mime.write`) against the `email` package it stands in for: the same
bytes as `EmailMessage` + smtplib's flattening, for every shipped template and for odd text, except the
List-* headers, which are no longer RFC 2047-encoded."""
from __future__ import annotations

import io
import re
from email import contentmanager
from email import policy as email_policy
from email.generator import BytesGenerator
from email.parser import BytesParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incident.broadcast import templates
from incident.outbox.channels import RenderedMessage, mime
from incident.outbox.channels.email import SmtpEmail

URL = "https://status.example.com/unsubscribe/WzEyLCJlbWFpbCJd.u11-cOdMwKryXAxUf8t1fUaQxdk"
NAMES = ["Carla Rossi", "", "Ærø Þórsson-Ünal", "<b>Tom & Jerry</b>", "=?utf-8?q?x?= Ltd", "Ann  O'Neil. .x"]
TEXTS = st.text(st.characters(blacklist_categories=("Cs",)), max_size=400) | st.lists(
    st.sampled_from(["a", " ", "\t", "é", "=", ".", "\n", "\r\n", "x" * 70, "€" * 30, "\x0b", "\x85"]),
    max_size=60).map("".join)


def reference(channel: SmtpEmail, to: str, message: RenderedMessage, wire: bytes) -> bytes:
    """What the `email` package sends for the same message, with `wire`'s Date, Message-ID and boundary."""
    email = channel.build(to, message)
    for name in ("Date", "Message-ID"):
        email.replace_header(name, re.search(rb"^" + name.encode() + rb": (.*)\r$", wire, re.M).group(1).decode())
    if email.is_multipart():
        email.set_boundary(re.search(rb'boundary="(.*)"', wire).group(1).decode())
    out = io.BytesIO()
    BytesGenerator(out).flatten(email, linesep="\r\n")
    return out.getvalue()


def without_list_headers(wire: bytes) -> bytes:
    return re.sub(rb"^List-[^:]*:.*?\r\n(?! )", b"", wire, flags=re.M | re.S)


def parse(wire: bytes):
    return BytesParser(policy=email_policy.default).parsebytes(wire)


@pytest.mark.parametrize("kind", templates.KINDS)
@pytest.mark.parametrize("locale", templates.languages())
def test_every_shipped_email_is_what_the_email_package_writes(app, kind, locale):
    channel = SmtpEmail("127.0.0.1", 25, mail_from="Tocsin Status <status@tocsin.test>")
    with app.app_context():
        context = templates.sample_context(locale, customer_name=templates.NAME_SENTINEL,
                                           unsubscribe_url=templates.UNSUBSCRIBE_SENTINEL,
                                           message="Sign-in fails for some of you; we are on it.")
        rendered = templates.render(kind, "email", locale, context)
    for name in NAMES:
        message = templates.personalize(rendered, name=name, unsubscribe_url=URL)
        wire, message_id = channel.compose("c12@example.com", message)

        assert isinstance(wire, bytes)
        assert without_list_headers(wire) == without_list_headers(reference(channel, "c12@example.com", message, wire))
        email = parse(wire)
        assert email["Message-ID"] == message_id and email["To"] == "c12@example.com"
        assert email["Content-Language"] == locale and email["Subject"].strip() == message.subject
        assert email.get_body(("plain",)).get_content().splitlines() == message.text.splitlines()
        assert email.get_body(("html",)).get_content().splitlines() == message.html.splitlines()
        assert f"List-Unsubscribe: <{URL}>\r\n".encode() in wire    # as it is: RFC 2369, no encoded words
        assert email["List-Unsubscribe"] == f"<{URL}>"
        assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_a_text_part_is_encoded_as_the_email_package_encodes_it(text):
    cte, body = mime.encode_text(text)

    expected_cte, expected = contentmanager._encode_text(text, "utf-8", None, email_policy.default)
    assert cte == expected_cte
    assert body == expected.encode("ascii", "surrogateescape")


@settings(max_examples=200, deadline=None)
@given(subject=TEXTS, text=TEXTS, html=st.none() | TEXTS, extra=st.text(st.characters(min_codepoint=32, max_codepoint=0x24f,
                                                                               blacklist_categories=("Cs",)), max_size=120))
def test_any_message_is_what_the_email_package_writes(subject, text, html, extra):
    channel = SmtpEmail("127.0.0.1", 25, mail_from="Société Status <status@tocsin.test>")
    message = RenderedMessage(text=text, subject=" ".join(subject.split()), html=html,
                              headers={"X-Note": " ".join(extra.split()), "Content-Language": "it"})

    wire, _ = channel.compose("ana.o'neil+news@customer.test", message)

    assert wire == reference(channel, "ana.o'neil+news@customer.test", message, wire)


@pytest.mark.parametrize("name, value", [
    ("Subject", "[INC-42] Login failing — investigating"),
    ("Subject", "A subject long enough to be folded by the email package at one of its many spaces, twice over"),
    ("From", "Status, Inc <status@tocsin.test>"),
    ("To", '"ana maria"@customer.test'),
    ("X-Note", "two  spaces and =?utf-8?q?an_encoded_word?="),
    ("List-Unsubscribe", "<https://tocsin.test/unsubscribe/abc>, <mailto:unsubscribe@tocsin.test?subject=unsubscribe>"),
])
def test_a_header_reads_back_as_it_was_given(name, value):
    folded = mime.header(name, value)

    assert folded.endswith(b"\r\n") and all(len(line) <= 78 for line in folded.split(b"\r\n"))
    assert parse(folded + b"\r\n")[name] == parse(mime._folded(name, value) + b"\r\n")[name]


def test_a_line_break_in_a_header_is_refused():
    with pytest.raises(ValueError):
        mime.header("X-Note", "fine\r\nBcc: victim@evil.test")
    with pytest.raises(ValueError):
        mime.header("List-Unsubscribe", "<https://x.test/u>\nBcc: victim@evil.test")


def test_an_international_address_goes_through_the_email_package():
    channel = SmtpEmail("127.0.0.1", 25, mail_from="status@tocsin.test")

    email, message_id = channel.compose("jörg@beispiel.test", RenderedMessage(text="Hallo", subject="Hallo"))

    assert not isinstance(email, bytes) and email["Message-ID"] == message_id


def test_the_boundary_is_never_in_a_part(monkeypatch):
    clash = iter([1, 1, 2])
    monkeypatch.setattr(mime.random, "randrange", lambda _: next(clash))
    text = "--" + "=" * 15 + f"{1:019d}" + "==\n"

    wire = mime.write([("Subject", "x")], text, "<p>x</p>", [])

    assert re.search(rb'boundary="={15}0{18}2=="', wire)
    assert parse(wire).get_body(("plain",)).get_content().splitlines() == text.splitlines()
