"""An email as it goes on the wire, written from strings: the bytes `EmailMessage` and smtplib's
flattening would make, for a tenth of the CPU.

A broadcast sends thousands of near-identical emails: the same parts per language, only the name,
the unsubscribe link and a few headers differ. Building each through `EmailMessage` cost 1.5–2 ms of
CPU (header parsing and folding in the `email` package), as much as the rest of a send. Here the
parts are encoded exactly as `email.contentmanager` encodes them (7bit, 8bit, quoted-printable or
base64, chosen by its rule), quoted-printable line by line through a cache, so the lines every
recipient shares are encoded once; the structure (headers in the same order, the same boundary
form, MIME-Version on the HTML part) is the generator's. Headers that need the `email` package's
care (a non-ASCII subject, a display name, anything unusual) are folded by it, cached per value.

One difference, on purpose: a List-* header (RFC 2369: angle-bracketed URLs) is written as it is,
folded only at its spaces. The `email` package RFC 2047-encodes a long List-Unsubscribe
(`=?utf-8?q?=3Chttps=3A//…`), which RFC 2047 does not allow there and mail providers cannot read.
"""
from __future__ import annotations

import binascii
import random
import re
import sys
from email import policy as email_policy
from email import quoprimime
from email.headerregistry import AddressHeader, HeaderRegistry, UnstructuredHeader
from functools import lru_cache

MAX_LINE = 78                                   # email.policy.default.max_line_length
SMTP_POLICY = email_policy.default.clone(linesep="\r\n")   # what smtplib's send_message flattens with
_PRINTABLE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")  # ASCII words, single spaces, nothing else
_ADDR_SPEC = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                        r"@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_BOUNDARY_WIDTH = len(repr(sys.maxsize - 1))    # email.generator's boundary: 15 '=', 19 digits, '=='
_REGISTRY = HeaderRegistry().registry
# Headers the package writes back as given when they are short plain ASCII: unstructured ones (any name it
# does not know), and the date and message id (the channel writes them in their canonical form already).
_AS_GIVEN = frozenset({"date", "message-id"} | {name for name, kind in _REGISTRY.items()
                                                 if issubclass(kind, UnstructuredHeader)})
_ADDRESSES = frozenset(name for name, kind in _REGISTRY.items() if issubclass(kind, AddressHeader))


@lru_cache(maxsize=4096)
def _qp_line(line: bytes) -> str:
    """One line quoted-printable, as `quoprimime.body_encode` writes it (it encodes each line on its
    own, so a body's encoding is its lines' joined). Shared lines stay cached; a recipient's own
    (their name, their link) pass through."""
    return quoprimime.body_encode(line.decode("latin-1"), MAX_LINE)


def encode_text(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, body with \\n line ends) of a UTF-8 text part, as
    `email.contentmanager.set_text_content` chooses and encodes it under the default policy."""
    lines = text.encode("utf-8").splitlines()
    if max(map(len, lines), default=0) <= MAX_LINE:
        body = b"\n".join(lines) + b"\n"
        return ("7bit" if body.isascii() else "8bit"), body
    sniff = b"\n".join(lines[:10]) + b"\n"
    sniff_qp = "\n".join(map(_qp_line, lines[:10])) + "\n"
    if len(sniff_qp) > len(binascii.b2a_base64(sniff)):
        data = b"\n".join(lines) + b"\n"
        return "base64", b"".join(binascii.b2a_base64(data[i:i + MAX_LINE // 4 * 3])
                                  for i in range(0, len(data), MAX_LINE // 4 * 3))
    if len(lines) <= 10:
        return "quoted-printable", sniff_qp.encode("ascii")
    return "quoted-printable", ("\n".join(map(_qp_line, lines)) + "\n").encode("ascii")


@lru_cache(maxsize=1024)
def _folded(name: str, value: str) -> bytes:
    """The header as the `email` package folds it for SMTP (ValueError for a line break in it)."""
    return SMTP_POLICY.fold_binary(*SMTP_POLICY.header_store_parse(name, value))


def _fold_words(name: str, value: str) -> bytes:
    """A header of plain ASCII words written as it is, folded at its spaces when long."""
    lines, line = [], f"{name}:"
    for word in value.split(" "):
        if len(line) + 1 + len(word) > MAX_LINE and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def header(name: str, value: str) -> bytes:
    """One header line (or folded lines), CRLF-terminated.

    Printable ASCII goes as it is where that is what the `email` package would write too (a short
    unstructured value, a bare address) and always for List-* headers; the rest is the package's."""
    key = name.lower()
    simple = _PRINTABLE.fullmatch(value) is not None and "=?" not in value
    if simple and key.startswith("list-") and len(name) + 2 + max(map(len, value.split(" "))) <= 998:
        return _fold_words(name, value)
    if simple and len(name) + 2 + len(value) <= MAX_LINE and (
            (key in _ADDRESSES and _ADDR_SPEC.fullmatch(value)) or key in _AS_GIVEN or key not in _REGISTRY):
        return f"{name}: {value}\r\n".encode("ascii")
    return _folded(name, value)


def _boundary(*bodies: bytes) -> str:
    while True:
        boundary = "=" * 15 + f"{random.randrange(sys.maxsize):0{_BOUNDARY_WIDTH}d}" + "=="
        if not any(boundary.encode("ascii") in body for body in bodies):
            return boundary


def _crlf(body: bytes) -> bytes:
    return body.replace(b"\n", b"\r\n")


def _part(subtype: str, text: str) -> tuple[bytes, bytes]:
    cte, body = encode_text(text)
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
            .encode("ascii"), _crlf(body))


def write(headers: list[tuple[str, str]], text: str, html: str | None, extra: list[tuple[str, str]]) -> bytes:
    """The message: `headers` (Subject, From, To, Date, Message-ID …), the text part (multipart/
    alternative with the HTML part when there is one), then the `extra` headers (after the content, as
    `SmtpEmail.build` sets them). CRLF line ends; smtplib's `sendmail` dot-stuffs it."""
    top = b"".join(header(name, value) for name, value in headers)
    tail = b"".join(header(name, value) for name, value in extra)
    text_headers, text_body = _part("plain", text)
    if html is None:
        return top + text_headers + b"MIME-Version: 1.0\r\n" + tail + b"\r\n" + text_body
    html_headers, html_body = _part("html", html)
    boundary = _boundary(text_body, html_body)
    return b"".join((
        top, b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="',
        boundary.encode("ascii"), b'"\r\n', tail, b"\r\n",
        b"--", boundary.encode("ascii"), b"\r\n", text_headers, b"\r\n", text_body,
        b"\r\n--", boundary.encode("ascii"), b"\r\n", html_headers, b"MIME-Version: 1.0\r\n\r\n", html_body,
        b"\r\n--", boundary.encode("ascii"), b"--\r\n",
    ))
