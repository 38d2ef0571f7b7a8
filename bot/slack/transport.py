"""Slack Web API adapters: the metered client with its retry policy, user-group membership, how
a failed call is classified for the outbox, and the transport that renders and sends outbox
items (with a look-up by metadata before sending again what may have landed)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Collection
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from bot.observability import MeteredWebClient, Metrics
from bot.slack import views
from bot.slack.mrkdwn import safe
from core.models import GoSession, MessageRef
from core.outbox import DriftPayload, Failed, OutboxItem, ReminderPayload, SendResult, Sent

log = logging.getLogger("gobot.slack")
GROUP_CACHE_SECONDS = 300.0
SLACK_TIMEOUT_SECONDS = 10


def _unsent(error: Exception) -> bool:
    """Failures that cannot have reached Slack: a refused connection, a failed DNS lookup."""
    reason = error.reason if isinstance(error, URLError) else error
    return isinstance(reason, ConnectionRefusedError | socket.gaierror)


class UnsentRetryHandler(RetryHandler):
    """Retries only what cannot have reached Slack; any other failure may have posted, and is
    the outbox's to look up before it posts again."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return error is not None and _unsent(error)


def make_client(
    token: str,
    base_url: str,
    metrics: Metrics,
    timeout: float = SLACK_TIMEOUT_SECONDS,
    *,
    wait_on_rate_limit: bool = True,
) -> WebClient:
    """A metered client. It retries inline only failures that cannot have reached Slack, and,
    with `wait_on_rate_limit`, one 429 after Retry-After (fine for calls that are harmless to
    repeat; the outbox's posting client leaves 429s to the outbox, which honours Retry-After
    without holding a lease through the wait)."""
    handlers: list[RetryHandler] = [UnsentRetryHandler(max_retry_count=2)]
    if wait_on_rate_limit:
        handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    return MeteredWebClient(
        metrics=metrics,
        token=token,
        base_url=base_url,
        timeout=timeout,  # urllib takes float seconds
        retry_handlers=handlers,
    )


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


TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
METADATA_EVENT = "gobot_outbox"


def classify(exc: Exception) -> Failed:
    """A failed Slack call as the outbox sees it: retry (when), give up, or look first.

    Slack errors are final unless known to be passing: an unknown one retried forever would
    hold up every later message of its session."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = str(exc.response.get("error") or f"HTTP {status}")
        if status == 429:
            try:
                retry_after = float(exc.response.headers.get("Retry-After", "1"))
            except (TypeError, ValueError):
                retry_after = 1.0
            return Failed(error="ratelimited", retry_after=retry_after)
        return Failed(error=error, permanent=status < 500 and error not in TRANSIENT_ERRORS)
    if _unsent(exc):
        return Failed(error=f"Slack unreachable ({type(exc).__name__})")
    return Failed(error=f"no answer from Slack ({type(exc).__name__})", maybe_sent=True)


class SlackTransport:
    """Renders an outbox item and sends it: the snapshot to the channel, the end as an update
    of that post, everything else in its thread."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def send(self, item: OutboxItem, thread: MessageRef | None) -> SendResult:
        session = item.data.session
        try:
            if item.maybe_sent:
                found = self._find(item, thread)
                if found is not None:
                    return Sent(message=found)
            return self._send(item, session, thread)
        except (SlackApiError, SlackClientError, OSError) as exc:
            failure = classify(exc)
            log.warning("%s for session %s failed: %s", item.kind, item.session_id, failure.error)
            return failure

    def _send(self, item: OutboxItem, session: GoSession, thread: MessageRef | None) -> SendResult:
        if item.kind == "ended" and thread is not None:
            # The post shows the end in place (idempotent: a retry may repeat it), then the
            # summary goes in its thread (a retry looks for it first, by its metadata).
            self._client.chat_update(
                channel=thread.channel,
                ts=thread.ts,
                text=views.snapshot_text(session),
                blocks=views.snapshot_message(session),
            )
        channel = thread.channel if thread else item.channel
        if not channel:
            return Failed(error="no channel to post to (set GOBOT_CHANNEL)", permanent=True)
        extra: dict[str, Any] = {}
        if item.kind == "snapshot":
            text, blocks = views.snapshot_text(session), views.snapshot_message(session)
        elif item.kind == "ended":
            text, blocks = "GO session ended", views.summary_message(session)
        elif isinstance(item.data, ReminderPayload):
            text, blocks = views.reminder_text(item.data), views.reminder_message(item.data)
            extra["reply_broadcast"] = item.data.escalate
        elif isinstance(item.data, DriftPayload):
            text, blocks = "GO health watch", views.drift_message(item.data)
        else:
            return Failed(error=f"no message for a {item.kind} item", permanent=True)
        if item.kind != "snapshot" and thread is not None:
            extra["thread_ts"] = thread.ts
        response = self._client.chat_postMessage(
            channel=channel,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            metadata={"event_type": METADATA_EVENT, "event_payload": {"outbox_id": item.id}},
            **extra,
        )
        return Sent(message=MessageRef(channel=str(response["channel"]), ts=str(response["ts"])))

    def _find(self, item: OutboxItem, thread: MessageRef | None) -> MessageRef | None:
        """After an attempt whose outcome is unknown: did that message land after all?"""
        if item.kind == "snapshot" or thread is None:
            channel = item.channel or ""
            response = self._client.conversations_history(
                channel=channel, include_all_metadata=True, limit=100
            )
        else:
            channel = thread.channel
            response = self._client.conversations_replies(
                channel=channel, ts=thread.ts, include_all_metadata=True, limit=200
            )
        for message in response.get("messages") or []:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("outbox_id") == item.id:
                return MessageRef(channel=channel, ts=str(message["ts"]))
        return None

    def tell_operator(self, item: OutboxItem, problem: str) -> None:
        if not item.reply_to:
            return
        hint = (
            " Invite the bot to the channel with `/invite @gobot`."
            if problem in ("not_in_channel", "channel_not_found")
            else ""
        )
        text = (
            f":warning: gobot could not post the GO session {item.kind} message: "
            f"`{safe(problem, 200)}`.{hint} The session itself is saved."
        )
        try:
            WebhookClient(item.reply_to, timeout=SLACK_TIMEOUT_SECONDS).send(
                text=text, response_type="ephemeral", replace_original=False
            )
        except (SlackClientError, OSError) as exc:
            log.warning("could not tell the operator about %s: %s", item.id, exc)
