"""Email through SMTP (smtplib): multipart text + HTML; each sending thread keeps its connection.

The message is written by `mime.write` (the bytes `EmailMessage` would make, without its cost);
`build` (EmailMessage) remains for internationalised addresses, which need SMTPUTF8.

A connection is reused for up to MAX_PER_CONNECTION messages (a new TCP + TLS + EHLO + AUTH for
every message costs more than the message on a real relay); one idle for IDLE_CHECK_SECONDS is
checked with NOOP first, and any error drops it. A message is never sent again by the channel
itself: an error on a reused connection is a result like any other (retryable or not), and
the outbox decides.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import time
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from . import mime
from .base import RenderedMessage, SendResult

logger = logging.getLogger(__name__)

# Headers the channel writes itself; message.headers cannot replace them.
MAX_PER_CONNECTION = 100   # many relays close a session after ~100 messages
IDLE_CHECK_SECONDS = 5.0   # a connection idle longer is checked with NOOP before it is used

OWN_HEADERS = frozenset({"from", "to", "subject", "date", "message-id", "mime-version",
                         "content-type", "content-transfer-encoding", "bcc", "cc"})


def _code_result(code: int | None, what: str = "smtp") -> SendResult:
    """4xx: try again later; 5xx (and anything odd): failed for good."""
    if code and 400 <= code < 500:
        return SendResult(ok=False, error=f"{what} {code}", retryable=True)
    return SendResult(ok=False, error=f"{what} {code}" if code else f"{what} error")


def result_from_smtp_error(err: Exception) -> SendResult:
    """Map an smtplib or socket error to retry later / failed for good."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        codes: list[int | None] = [code for code, _ in err.recipients.values()] or [None]
        return _code_result(min(codes, key=lambda c: c or 999))
    if isinstance(err, smtplib.SMTPResponseException):   # sender, data, auth, helo, connect
        return _code_result(err.smtp_code)
    if isinstance(err, smtplib.SMTPNotSupportedError):
        return SendResult(ok=False, error="smtp not supported")   # STARTTLS/AUTH missing
    if isinstance(err, smtplib.SMTPServerDisconnected):   # smtplib wraps read timeouts in it
        what = "timeout" if "timed out" in str(err) else "disconnected"
        return SendResult(ok=False, error=f"smtp {what}", retryable=True)
    if isinstance(err, TimeoutError):
        return SendResult(ok=False, error="smtp timeout", retryable=True)
    if isinstance(err, ConnectionRefusedError):
        return SendResult(ok=False, error="smtp connection refused", retryable=True)
    if isinstance(err, (OSError, smtplib.SMTPException)):
        return SendResult(ok=False, error="smtp connection error", retryable=True)
    return SendResult(ok=False, error="smtp error")


class SmtpEmail:
    """Sends through one SMTP relay, with optional STARTTLS and login; never raises for SMTP."""

    name = "email"
    sandbox = False

    def __init__(self, host: str, port: int, *, username: str | None = None,
                 password: str | None = None, starttls: bool = False, mail_from: str,
                 timeout: float = 10, local_hostname: str | None = None):
        self.host = host
        self.port = int(port)
        self.username = username
        self.password = password
        self.starttls = starttls
        self.mail_from = mail_from
        self.envelope_from = parseaddr(mail_from)[1] or mail_from
        self.domain = self.envelope_from.rpartition("@")[2] or "localhost"
        self.timeout = timeout
        self.local_hostname = local_hostname   # EHLO name; None lets smtplib use the FQDN
        self._local = threading.local()        # this thread's _Held connection
        self._held: list[_Held] = []           # every thread's, to close those of finished threads
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SmtpEmail({self.host!r}, {self.port}, starttls={self.starttls})"

    def compose(self, to: str, message: RenderedMessage) -> tuple[bytes | EmailMessage, str]:
        """(the email, its Message-ID): its bytes, or an EmailMessage when an address needs SMTPUTF8.
        ValueError for a header the channel writes itself or one with a line break in it."""
        if not (to.isascii() and self.envelope_from.isascii()):
            email = self.build(to, message)
            return email, email["Message-ID"]
        message_id = make_msgid(domain=self.domain)
        extra = {"Content-Language": "en", **message.headers}   # customers' messages say theirs; staff's are English
        if any(key.lower() in OWN_HEADERS for key in extra):
            raise ValueError("a header is the channel's own")
        headers = [("Subject", message.subject), ("From", self.mail_from), ("To", to),
                   ("Date", format_datetime(datetime.now(timezone.utc))), ("Message-ID", message_id)]
        later: dict[str, tuple[str, str]] = {}   # by lower-case name: a later one replaces, as in build()
        for key, value in extra.items():
            later.pop(key.lower(), None)
            later[key.lower()] = (key, value)
        return mime.write(headers, message.text, message.html or None, list(later.values())), message_id

    def build(self, to: str, message: RenderedMessage) -> EmailMessage:
        """The email as the `email` package builds it (multipart/alternative when there is HTML)."""
        email = EmailMessage()
        email["Subject"] = message.subject
        email["From"] = self.mail_from
        email["To"] = to
        email["Date"] = format_datetime(datetime.now(timezone.utc))
        email["Message-ID"] = make_msgid(domain=self.domain)
        headers = {"Content-Language": "en", **message.headers}   # customers' messages say theirs; staff's are English
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        for key, value in headers.items():   # after the content: setting it clears every Content-* header
            if key.lower() in OWN_HEADERS:
                raise ValueError(f"header {key} is the channel's own")
            del email[key]
            email[key] = value
        return email

    def send(self, to: str, message: RenderedMessage) -> SendResult:
        """Deliver to the relay; provider_id is the Message-ID."""
        _, address = parseaddr(to)
        if not address or "@" not in address or address != to.strip() or "," in to:
            return SendResult(ok=False, error="invalid address")
        try:
            email, message_id = self.compose(address, message)
        except (ValueError, TypeError, AttributeError) as err:   # header injection, non-string values
            logger.warning("email not built: %s", type(err).__name__)
            return SendResult(ok=False, error="invalid message")
        try:
            self._deliver(address, email)
        except (smtplib.SMTPException, OSError) as err:
            result = result_from_smtp_error(err)
            logger.warning("email %s to %s failed: %s%s", message_id, self.domain_of(address),
                           result.error, " (will retry)" if result.retryable else "")
            return result
        logger.info("email %s accepted by %s:%s", message_id, self.host, self.port)
        return SendResult(ok=True, provider_id=message_id)

    @staticmethod
    def domain_of(address: str) -> str:
        """The recipient's domain, which is enough for a log line."""
        return "@" + address.rpartition("@")[2]

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname)
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            _quietly_close(smtp)
            raise
        return smtp

    def _connection(self) -> _Held:
        """This thread's connection: the one it holds if still good, else a new one."""
        held: _Held | None = getattr(self._local, "held", None)
        if held is not None and (held.used >= MAX_PER_CONNECTION or (
                time.monotonic() - held.last > IDLE_CHECK_SECONDS and not _alive(held.smtp))):
            self._drop(quit_first=held.used >= MAX_PER_CONNECTION)
            held = None
        if held is None:
            held = _Held(self._connect(), threading.current_thread())
            with self._lock:
                for other in [h for h in self._held if not h.thread.is_alive()]:   # pool threads that ended
                    self._held.remove(other)
                    _quietly_close(other.smtp)
                self._held.append(held)
            self._local.held = held
        return held

    def _drop(self, *, quit_first: bool = False) -> None:
        held: _Held | None = getattr(self._local, "held", None)
        self._local.held = None
        if held is None:
            return
        with self._lock:
            if held in self._held:
                self._held.remove(held)
        if quit_first:
            try:
                held.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
        _quietly_close(held.smtp)

    def close(self) -> None:
        """Close every thread's connection (at shutdown: no thread may be sending)."""
        with self._lock:
            held, self._held = self._held, []
        for each in held:
            _quietly_close(each.smtp)
        self._local = threading.local()

    def _deliver(self, address: str, email: bytes | EmailMessage) -> None:
        held = self._connection()
        try:
            if isinstance(email, bytes):
                held.smtp.sendmail(self.envelope_from, [address], email)
            else:
                held.smtp.send_message(email, from_addr=self.envelope_from, to_addrs=[address])
        except BaseException:
            self._drop()   # its state is unknown after a refusal or a timeout: the next message starts afresh
            raise
        held.used += 1
        held.last = time.monotonic()


class _Held:
    """One thread's open SMTP connection."""

    def __init__(self, smtp: smtplib.SMTP, thread: threading.Thread):
        self.smtp, self.thread = smtp, thread
        self.used = 0
        self.last = time.monotonic()


def _alive(smtp: smtplib.SMTP) -> bool:
    try:
        return smtp.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _quietly_close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.close()
    except OSError:
        pass
