"""Slack Web API adapters: the client, user-group membership and the channel notifier."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot import views
from core.models import Delivery, GoSession, MessageRef

log = logging.getLogger("gobot.slack")
GROUP_CACHE_SECONDS = 300.0
SLACK_TIMEOUT_SECONDS = 10


def make_client(token: str, base_url: str) -> WebClient:
    """Retries connection failures and 429s (sleeping for Retry-After); never a timeout, whose
    outcome is unknown and whose retry could post twice."""
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=SLACK_TIMEOUT_SECONDS,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


def slack_problem(exc: Exception) -> str:
    """A short reason for an operator: Slack's error code, or the kind of failure."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
    return f"Slack unreachable ({type(exc).__name__})"


class GroupMembers:
    """`usergroups.users.list`, cached per group for a few minutes."""

    def __init__(self, client: WebClient, ttl: float = GROUP_CACHE_SECONDS) -> None:
        self._client = client
        self._ttl = ttl
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, group: str) -> Collection[str]:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(group)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        response = self._client.usergroups_users_list(usergroup=group)
        members = frozenset(str(user) for user in response.get("users") or [])
        with self._lock:
            self._cache[group] = (now, members)
        return members


class SlackNotifier:
    """Posts the snapshot to the session's channel; on end, updates it in place and replies in
    its thread with the summary."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def session_started(self, session: GoSession) -> Delivery:
        if not session.channel:
            return Delivery(problem="no channel to post to (set GOBOT_CHANNEL)")
        try:
            response = self._client.chat_postMessage(
                channel=session.channel,
                text=views.snapshot_text(session),
                blocks=views.snapshot_message(session),
                unfurl_links=False,
            )
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("snapshot post for session %s failed: %s", session.id, slack_problem(exc))
            return Delivery(problem=slack_problem(exc))
        return Delivery(
            message=MessageRef(channel=str(response["channel"]), ts=str(response["ts"]))
        )

    def session_ended(self, session: GoSession) -> Delivery:
        message = session.message
        try:
            if message is not None:
                self._client.chat_update(
                    channel=message.channel,
                    ts=message.ts,
                    text=views.snapshot_text(session),
                    blocks=views.snapshot_message(session),
                )
            channel = message.channel if message else session.channel
            if not channel:
                return Delivery(problem="no channel to post to (set GOBOT_CHANNEL)")
            self._client.chat_postMessage(
                channel=channel,
                thread_ts=message.ts if message else None,
                text="GO session ended",
                blocks=views.summary_message(session),
                unfurl_links=False,
            )
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("end post for session %s failed: %s", session.id, slack_problem(exc))
            return Delivery(message=message, problem=slack_problem(exc))
        return Delivery(message=message)
