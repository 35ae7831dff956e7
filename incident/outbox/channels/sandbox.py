"""The sandbox channel: records what would have been sent and never leaves the machine."""
from __future__ import annotations

import logging
import threading
from collections import deque
from uuid import uuid4

from .base import RenderedMessage, SendResult

logger = logging.getLogger(__name__)


KEEP = 100   # the latest sends (updates, actions) a sandbox holds in memory


class SandboxChannel:
    """Records sends (and Slack-like updates and channel actions) instead of delivering them.

    Only the latest `keep` of each are held (None: all, for tests that count every message). The
    worker of a demo or a drill runs for days and nothing in it reads this record back — the outbox
    page and the broadcast's counts read the delivery rows — so it stays small: 20,000 personalised
    emails held per channel were most of a soak worker's growth from 140 to 282 MB.
    """

    sandbox = True

    def __init__(self, name: str, *, keep: int | None = KEEP):
        self.name = name
        self.sent: deque[tuple[str, RenderedMessage]] = deque(maxlen=keep)
        self.updated: deque[tuple[str, RenderedMessage]] = deque(maxlen=keep)
        self.actions: deque[tuple[str, tuple]] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SandboxChannel({self.name!r})"

    def send(self, to: str, message: RenderedMessage) -> SendResult:
        """Record one message to one address."""
        provider_id = f"sandbox-{uuid4().hex}"
        with self._lock:
            self.sent.append((to, message))
        logger.debug("sandbox %s: recorded a message (%s)", self.name, provider_id)
        return SendResult(ok=True, provider_id=provider_id)

    def update(self, provider_id: str, message: RenderedMessage) -> SendResult:
        """Record an edit of an earlier message (Slack's chat.update)."""
        with self._lock:
            self.updated.append((provider_id, message))
        return SendResult(ok=True, provider_id=provider_id)

    def create_channel(self, name: str) -> SendResult:
        """Record a per-incident channel; its id is made up."""
        with self._lock:
            self.actions.append(("create_channel", (name,)))
        return SendResult(ok=True, provider_id=f"sandbox-{name}")

    def invite(self, channel_id: str, user_ids) -> SendResult:
        """Record an invitation."""
        with self._lock:
            self.actions.append(("invite", (channel_id, tuple(user_ids))))
        return SendResult(ok=True, provider_id=channel_id)

    def set_topic(self, channel_id: str, topic: str) -> SendResult:
        """Record a topic change."""
        with self._lock:
            self.actions.append(("set_topic", (channel_id, topic)))
        return SendResult(ok=True, provider_id=channel_id)

    def open_view(self, trigger_id: str, view: dict) -> SendResult:
        """Record a modal that would have opened (Slack's views.open)."""
        with self._lock:
            self.actions.append(("open_view", (trigger_id, view)))
        return SendResult(ok=True, provider_id=f"sandbox-view-{uuid4().hex[:8]}")

    def archive(self, channel_id: str) -> SendResult:
        """Record the archiving of an incident's channel."""
        with self._lock:
            self.actions.append(("archive", (channel_id,)))
        return SendResult(ok=True, provider_id=channel_id)

    def fetch_message(self, channel_id: str, ts: str) -> SendResult:
        """The sandbox has no messages to read back: an empty one."""
        with self._lock:
            self.actions.append(("fetch_message", (channel_id, ts)))
        return SendResult(ok=True, provider_id=f"{channel_id}:{ts}")

    def messages_to(self, to: str) -> list[RenderedMessage]:
        """What was recorded for one address, oldest first."""
        with self._lock:
            return [message for address, message in self.sent if address == to]

    def clear(self) -> None:
        """Forget everything recorded."""
        with self._lock:
            self.sent.clear()
            self.updated.clear()
            self.actions.clear()
