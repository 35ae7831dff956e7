"""Slack through the Web API (slack_sdk): messages, their updates and per-incident channels."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from http.client import HTTPException
from typing import Callable, Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from .base import RenderedMessage, SendResult

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://slack.com/api/"
# Slack error codes that mean "try again later"; every other code is final.
TRANSIENT_ERRORS = frozenset({
    "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
    "team_added_to_org",
})
# Invitation answers that leave the user in the channel, which is what was asked.
HARMLESS_INVITE_ERRORS = frozenset({"already_in_channel", "cant_invite_self"})
# Archiving a channel that is archived already leaves it as asked.
HARMLESS_ARCHIVE_ERRORS = frozenset({"already_archived"})
SHORT_CODE = re.compile(r"^[a-z0-9_]{1,64}$")
LIST_PAGES = 20


@dataclass(frozen=True)
class FetchedMessage(SendResult):
    """A message read back from Slack (conversations.history): its text and author."""

    text: str = ""
    user: str = ""


def channel_name(raw: str) -> str:
    """A valid Slack channel name: lowercase letters, digits, '-' and '_', at most 80."""
    name = re.sub(r"[^a-z0-9_-]+", "-", raw.strip().lower()).strip("-")
    return name[:80].rstrip("-") or "incident"


def _retry_after(headers) -> float | None:
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            value = value[0] if isinstance(value, (list, tuple)) else value
            try:
                return max(float(value), 0.0)
            except (TypeError, ValueError):
                return None
    return None


def result_from_api_error(err: SlackApiError) -> SendResult:
    """Map a Slack API error to sent / retry later / failed for good."""
    response = err.response
    status = getattr(response, "status_code", None) or 0
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    code = data.get("error")
    if not isinstance(code, str) or not SHORT_CODE.match(code):
        code = f"http_{status}"
    if status == 429 or code == "ratelimited":
        return SendResult(ok=False, error="ratelimited", retryable=True,
                          retry_after=_retry_after(getattr(response, "headers", None)))
    if status >= 500 or code in TRANSIENT_ERRORS:
        return SendResult(ok=False, error=code, retryable=True)
    return SendResult(ok=False, error=code)


def result_from_connection_error(err: BaseException) -> SendResult:
    """A network problem (refused, reset, timed out): always worth another try."""
    reason = getattr(err, "reason", err)
    if isinstance(err, TimeoutError) or isinstance(reason, TimeoutError):
        return SendResult(ok=False, error="timeout", retryable=True)
    return SendResult(ok=False, error="connection_error", retryable=True)


class SlackChannel:
    """Posts to Slack channels and users with a bot token; never raises for a Slack error."""

    name = "slack"
    sandbox = False

    def __init__(self, token: str, *, base_url: str = DEFAULT_BASE_URL, timeout: float = 5):
        if not base_url.endswith("/"):
            base_url += "/"
        self.base_url = base_url
        # No built-in retry handlers: the dispatcher retries, and a 429 must reach it.
        # slack_sdk annotates timeout as int; it is handed to urllib, which takes seconds as a float
        self.client = WebClient(token=token, base_url=base_url, timeout=timeout,  # type: ignore[arg-type]
                                retry_handlers=[])

    def __repr__(self) -> str:
        return f"SlackChannel(base_url={self.base_url!r})"

    def _call(self, what: str, target: str, fn: Callable[..., SlackResponse], **kwargs):
        """Call the Web API; a SlackResponse when it worked, else a failed SendResult."""
        try:
            return fn(**kwargs)
        except SlackApiError as err:
            result = result_from_api_error(err)
        except (OSError, HTTPException) as err:
            result = result_from_connection_error(err)
        logger.warning("slack %s %s failed: %s%s", what, target, result.error,
                       " (will retry)" if result.retryable else "")
        return result

    def send(self, to: str, message: RenderedMessage) -> SendResult:
        """chat.postMessage to a channel id (C…) or a user id (U…, lands in the DM)."""
        if not message.text.strip():
            return SendResult(ok=False, error="no_text")
        response = self._call("chat.postMessage", to, self.client.chat_postMessage,
                              channel=to, text=message.text, blocks=message.blocks or None)
        if isinstance(response, SendResult):
            return response
        channel = response.get("channel") or to
        return SendResult(ok=True, provider_id=f"{channel}:{response.get('ts')}")

    def update(self, provider_id: str, message: RenderedMessage) -> SendResult:
        """chat.update of a message sent earlier; provider_id is "channel:ts"."""
        channel, _, ts = (provider_id or "").partition(":")
        if not channel or not ts:
            return SendResult(ok=False, error="invalid_provider_id")
        if not message.text.strip():
            return SendResult(ok=False, error="no_text")
        response = self._call("chat.update", channel, self.client.chat_update,
                              channel=channel, ts=ts, text=message.text,
                              blocks=message.blocks or None)
        if isinstance(response, SendResult):
            return response
        return SendResult(ok=True, provider_id=f"{response.get('channel') or channel}:"
                                               f"{response.get('ts') or ts}")

    def create_channel(self, name: str, *, is_private: bool = False) -> SendResult:
        """conversations.create; provider_id is the channel id. An existing name is reused."""
        name = channel_name(name)
        response = self._call("conversations.create", name, self.client.conversations_create,
                              name=name, is_private=is_private)
        if not isinstance(response, SendResult):
            return SendResult(ok=True, provider_id=response["channel"]["id"])
        if response.error != "name_taken":
            return response
        found = self.find_channel(name)
        return found if found.ok else SendResult(ok=False, error="name_taken")

    def find_channel(self, name: str) -> SendResult:
        """conversations.list until a channel (not archived) has that name."""
        cursor = None
        for _ in range(LIST_PAGES):
            response = self._call("conversations.list", name, self.client.conversations_list,
                                  types="public_channel,private_channel",
                                  exclude_archived=True, limit=200, cursor=cursor)
            if isinstance(response, SendResult):
                return response
            for channel in response.get("channels") or []:
                if channel.get("name") == name:
                    return SendResult(ok=True, provider_id=channel["id"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return SendResult(ok=False, error="channel_not_found")

    def invite(self, channel_id: str, user_ids: Iterable[str]) -> SendResult:
        """conversations.invite; users already in the channel count as invited."""
        users = [user for user in dict.fromkeys(user_ids) if user]
        if not users:
            return SendResult(ok=True, provider_id=channel_id)
        result = self._invite(channel_id, users)
        if not result.ok and result.error in HARMLESS_INVITE_ERRORS and len(users) > 1:
            # Slack refuses the whole batch when one user is already in: go one by one.
            for user in users:
                single = self._invite(channel_id, [user])
                if not single.ok and single.error not in HARMLESS_INVITE_ERRORS:
                    return single
            return SendResult(ok=True, provider_id=channel_id)
        if not result.ok and result.error in HARMLESS_INVITE_ERRORS:
            return SendResult(ok=True, provider_id=channel_id)
        return result

    def _invite(self, channel_id: str, users: list[str]) -> SendResult:
        response = self._call("conversations.invite", channel_id,
                              self.client.conversations_invite, channel=channel_id, users=users)
        if isinstance(response, SendResult):
            return response
        return SendResult(ok=True, provider_id=channel_id)

    def set_topic(self, channel_id: str, topic: str) -> SendResult:
        """conversations.setTopic."""
        response = self._call("conversations.setTopic", channel_id,
                              self.client.conversations_setTopic, channel=channel_id, topic=topic)
        if isinstance(response, SendResult):
            return response
        return SendResult(ok=True, provider_id=channel_id)

    def open_view(self, trigger_id: str, view: dict) -> SendResult:
        """views.open: a modal for the person whose command or click gave the trigger id."""
        response = self._call("views.open", "modal", self.client.views_open, trigger_id=trigger_id, view=view)
        if isinstance(response, SendResult):
            return response
        return SendResult(ok=True, provider_id=(response.get("view") or {}).get("id"))

    def archive(self, channel_id: str) -> SendResult:
        """conversations.archive; a channel archived already counts as archived."""
        response = self._call("conversations.archive", channel_id, self.client.conversations_archive,
                              channel=channel_id)
        if isinstance(response, SendResult) and response.error not in HARMLESS_ARCHIVE_ERRORS:
            return response
        return SendResult(ok=True, provider_id=channel_id)

    def fetch_message(self, channel_id: str, ts: str) -> SendResult:
        """One message by its ts (conversations.history, then the thread's replies): a FetchedMessage."""
        response = self._call("conversations.history", channel_id, self.client.conversations_history,
                              channel=channel_id, latest=ts, oldest=ts, inclusive=True, limit=1)
        if isinstance(response, SendResult):
            return response
        found = [m for m in response.get("messages") or [] if m.get("ts") == ts]
        if not found:  # a reply in a thread is not in the channel's history
            replies = self._call("conversations.replies", channel_id, self.client.conversations_replies,
                                 channel=channel_id, ts=ts, latest=ts, oldest=ts, inclusive=True, limit=1)
            if isinstance(replies, SendResult):
                return replies
            found = [m for m in replies.get("messages") or [] if m.get("ts") == ts]
        if not found:
            return SendResult(ok=False, error="message_not_found")
        return FetchedMessage(ok=True, provider_id=f"{channel_id}:{ts}", text=str(found[0].get("text") or ""),
                              user=str(found[0].get("user") or ""))
