"""The email channel keeps one SMTP connection per sending thread, against a real SMTP server
(aiosmtpd) on loopback: reused, renewed after MAX_PER_CONNECTION, checked after being idle, dropped on
any error, and never a message sent twice by the channel itself."""
from __future__ import annotations

import threading
from collections import Counter

import pytest

from incident.outbox.channels import RenderedMessage
from incident.outbox.channels import email as email_module
from incident.outbox.channels.email import SmtpEmail

from ..stand_ins import LoopbackController, RecordingHandler

MESSAGE = RenderedMessage(text="Login is failing. We are on it.", subject="Login failing", html=None, headers={})


class PeerHandler(RecordingHandler):
    """Also notes each message's connection (the client's port) and keeps the server side of each."""

    def __init__(self):
        super().__init__()
        self.peers: list[tuple] = []
        self.sessions: dict[tuple, object] = {}

    async def handle_DATA(self, server, session, envelope):
        self.peers.append(session.peer)
        self.sessions[session.peer] = server
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp():
    handler = PeerHandler()
    controller = LoopbackController(handler, hostname="127.0.0.1", port=0, server_hostname="smtp.test")
    controller.start()
    yield controller, handler
    controller.stop()


def channel(controller) -> SmtpEmail:
    return SmtpEmail("127.0.0.1", controller.port, mail_from="status@tocsin.test", timeout=5,
                     local_hostname="client.test")


def recipients(handler) -> Counter:
    return Counter(rcpt for mail in handler.received for rcpt in mail.rcpt_tos)


def test_one_thread_sends_every_message_through_one_connection(smtp):
    controller, handler = smtp
    email = channel(controller)
    results = [email.send(f"c{n}@customer.test", MESSAGE) for n in range(5)]
    assert all(result.ok for result in results)
    assert len(set(handler.peers)) == 1 and len(handler.peers) == 5
    assert len({result.provider_id for result in results}) == 5
    email.close()


def test_threads_have_a_connection_each(smtp):
    controller, handler = smtp
    email = channel(controller)
    barrier = threading.Barrier(3)

    def work(k):
        barrier.wait()
        for n in range(4):
            assert email.send(f"t{k}-{n}@customer.test", MESSAGE).ok

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(handler.received) == 12 and set(recipients(handler).values()) == {1}
    assert len(set(handler.peers)) == 3
    assert all(Counter(handler.peers)[peer] == 4 for peer in set(handler.peers))
    email.close()


def test_a_new_connection_after_max_per_connection(smtp, monkeypatch):
    controller, handler = smtp
    monkeypatch.setattr(email_module, "MAX_PER_CONNECTION", 3)
    email = channel(controller)
    for n in range(7):
        assert email.send(f"c{n}@customer.test", MESSAGE).ok
    assert [count for _, count in sorted(Counter(handler.peers).items(), key=lambda kv: handler.peers.index(kv[0]))] \
        == [3, 3, 1]
    email.close()


def close_server_side(controller, handler, peer) -> None:
    done = threading.Event()

    def close():
        handler.sessions[peer].transport.close()
        done.set()

    controller.loop.call_soon_threadsafe(close)
    assert done.wait(5)


def test_a_connection_the_server_closed_while_idle_is_replaced_after_a_noop(smtp, monkeypatch):
    controller, handler = smtp
    email = channel(controller)
    assert email.send("a@customer.test", MESSAGE).ok
    close_server_side(controller, handler, handler.peers[0])
    monkeypatch.setattr(email_module, "IDLE_CHECK_SECONDS", -1.0)   # as if idle for long: NOOP first
    result = email.send("b@customer.test", MESSAGE)
    assert result.ok
    assert recipients(handler) == {"a@customer.test": 1, "b@customer.test": 1}
    assert len(set(handler.peers)) == 2
    email.close()


def test_a_dead_connection_is_a_retryable_result_never_a_resend(smtp):
    controller, handler = smtp
    email = channel(controller)
    assert email.send("a@customer.test", MESSAGE).ok
    close_server_side(controller, handler, handler.peers[0])   # not idle long enough to be checked
    result = email.send("b@customer.test", MESSAGE)
    assert not result.ok and result.retryable and result.error.startswith("smtp")
    assert recipients(handler) == {"a@customer.test": 1}           # not sent, and not sent behind our back
    assert email.send("b@customer.test", MESSAGE).ok              # the next try opens a new connection
    assert recipients(handler) == {"a@customer.test": 1, "b@customer.test": 1}
    email.close()


def test_a_refusal_drops_the_connection_and_the_next_message_goes_on_a_new_one(smtp):
    controller, handler = smtp
    handler.reject_rcpt["bad@customer.test"] = "550 5.1.1 no such user"
    email = channel(controller)
    assert email.send("a@customer.test", MESSAGE).ok
    refused = email.send("bad@customer.test", MESSAGE)
    assert not refused.ok and not refused.retryable
    assert email.send("b@customer.test", MESSAGE).ok
    assert recipients(handler) == {"a@customer.test": 1, "b@customer.test": 1}
    assert len(set(handler.peers)) == 2
    email.close()


def test_connections_of_finished_threads_are_closed(smtp):
    controller, handler = smtp
    email = channel(controller)
    worker = threading.Thread(target=lambda: email.send("a@customer.test", MESSAGE))
    worker.start()
    worker.join()
    [theirs] = email._held
    assert theirs.smtp.sock is not None
    assert email.send("b@customer.test", MESSAGE).ok          # opening ours closes the finished thread's
    assert theirs.smtp.sock is None and len(email._held) == 1
    email.close()
    assert email._held == []
