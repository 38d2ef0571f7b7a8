"""Slack Web API adapters: the metered client with its retry policy, user-group membership, how
a failed call is classified for the outbox, and the transport that sends outbox items, each
drawn by its kind's renderer (`bot.slack.renderers`), with a look-up by metadata before sending
again what may have landed."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Collection, Sequence
from datetime import datetime
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
from bot.slack.playbook import playbook_message, playbook_text
from bot.slack.problems import WAITING_ERRORS, problem_hint
from bot.slack.renderers import render
from bot.slack.session_views import snapshot_message, snapshot_text
from core.models import GoSession, MessageRef, PlaybookStep, Posted
from core.outbox import (
    ApprovalPayload,
    DeployPayload,
    Failed,
    OutboxItem,
    SendResult,
    Sent,
    SessionPayload,
    TimelinePayload,
)

log = logging.getLogger("gobot.slack")
GROUP_CACHE_SECONDS = 300.0
SLACK_TIMEOUT_SECONDS = 10
MAX_INLINE_WAIT_SECONDS = 1  # the longest Retry-After a thread answering operators waits out


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


class BriefRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Retries a 429 once, only when Slack asks for a wait of at most MAX_INLINE_WAIT_SECONDS:
    the thread waiting is one that answers operators, and it must never be held for a longer
    Retry-After (the call fails instead, and the operator is told)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wanted = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), "")
        try:
            seconds = int(wanted if isinstance(wanted, str) else wanted[0])
        except (IndexError, ValueError):
            return False
        return 0 <= seconds <= MAX_INLINE_WAIT_SECONDS


def make_client(
    token: str,
    base_url: str,
    metrics: Metrics,
    timeout: float = SLACK_TIMEOUT_SECONDS,
    *,
    wait_on_rate_limit: bool = True,
) -> WebClient:
    """A metered client. It retries inline only failures that cannot have reached Slack, and,
    with `wait_on_rate_limit`, one 429 whose Retry-After is at most a second (fine for calls
    that are harmless to repeat; a longer wait would hold a thread that answers operators). The
    outbox's posting client leaves 429s to the outbox, which pauses Slack for every sender for
    the Retry-After without holding a thread or a lease through the wait."""
    handlers: list[RetryHandler] = [UnsentRetryHandler(max_retry_count=2)]
    if wait_on_rate_limit:
        handlers.append(BriefRateLimitRetryHandler(max_retry_count=1))
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
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# A post that is gone, or too old to edit: the summary goes on without the update.
GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
_SLACK_CODE = re.compile(r"[a-z][a-z0-9_]*")
METADATA_EVENT = "gobot_outbox"
MAX_RETRY_AFTER_SECONDS = 300.0
LOOKUP_PAGES = 10


def _retry_after(exc: SlackApiError) -> float:
    """Slack's Retry-After in seconds, bounded: a huge or broken value must not park a queue."""
    try:
        wanted = float(exc.response.headers.get("Retry-After", "1"))
    except (TypeError, ValueError):
        wanted = 1.0
    if not 0 <= wanted <= MAX_RETRY_AFTER_SECONDS:  # also NaN
        log.warning("Slack asked to wait %r s; waiting %.0f s", wanted, MAX_RETRY_AFTER_SECONDS)
        return MAX_RETRY_AFTER_SECONDS
    return wanted


def classify(exc: Exception) -> Failed:
    """A failed Slack call as the outbox sees it: retry (when), wait for a person, give up, or
    look first. Only an answer that proves the post did not happen spares the look-up."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        data = exc.response.data
        error = str(data.get("error") if isinstance(data, dict) else "") or f"HTTP {status}"
        if status == 429 or error == "ratelimited":
            return Failed(error="ratelimited", retry_after=_retry_after(exc))
        if error in WAITING_ERRORS:
            return Failed(error=error, waiting=True)
        if not isinstance(data, dict) or not _SLACK_CODE.fullmatch(error):
            # Not Slack's answer (a proxy's page, a body the SDK could not read): anything
            # may have happened.
            return Failed(error=f"unreadable answer from Slack (HTTP {status})", maybe_sent=True)
        if status >= 500 or error in TRANSIENT_ERRORS:
            return Failed(error=error, maybe_sent=True)
        return Failed(error=error, permanent=True)
    if _unsent(exc):
        return Failed(error=f"Slack unreachable ({type(exc).__name__})")
    return Failed(error=f"no usable answer from Slack ({type(exc).__name__})", maybe_sent=True)


def _payload(item: OutboxItem) -> dict[str, str]:
    """What a posted message carries to be found again: its item, and for the playbook
    message its session (a later item may have to find what an earlier one posted)."""
    if item.kind == "playbook":
        return {"outbox_id": item.id, "playbook_of": item.session_id}
    return {"outbox_id": item.id}


def _answered(item: OutboxItem, posted: Posted) -> MessageRef | None:
    """The message an answer is shown on, edited in place: an approval's request, or an answered
    deployment's waiting message; None for a message of its own."""
    if isinstance(item.data, DeployPayload) and item.data.deployment.state != "pending":
        return posted.post
    return item.data.message if isinstance(item.data, ApprovalPayload) else None


class SlackTransport:
    """Renders an outbox item and sends it: the snapshot to the channel, the end as an update
    of that post, everything else in its thread; the playbook message is posted once there and
    then edited in place, with the post's progress line; an approval's answer edits its request
    in place (posted in the thread instead if the request is gone)."""

    def __init__(self, client: WebClient, steps: Sequence[PlaybookStep]) -> None:
        """`steps`: the playbook, for the progress messages show."""
        self._client = client
        self._steps = steps

    def send(self, item: OutboxItem, posted: Posted) -> SendResult:
        try:
            answered = _answered(item, posted)
            if answered is not None and (edited := self._show_answer(item, answered)):
                return Sent(message=edited, posted=False)
            if item.maybe_sent and item.kind != "playbook":  # the playbook's own look-up below
                found = self._find(item, posted.post)
                if found is not None:
                    return Sent(message=found, posted=False)
            if isinstance(item.data, SessionPayload):
                return self._send(item, item.data.session, posted)
            return self._notify(item)
        except (SlackApiError, SlackClientError, OSError, ValueError, AttributeError) as exc:
            # ValueError, AttributeError: a 200 whose body is not Slack's JSON (a proxy's page)
            failure = classify(exc)
            log.warning("%s for session %s failed: %s", item.kind, item.session_id, failure.error)
            return failure

    def _show_answer(self, item: OutboxItem, request: MessageRef) -> MessageRef | None:
        """Edit the message an answer is shown on in place (None: it is gone, post the answer)."""
        rendered = render(item, self._steps, threaded=True)
        if isinstance(rendered, Failed):
            return None
        text, blocks, _ = rendered
        return self._edit(request, text, blocks, keep_thread=False)

    def _notify(self, item: OutboxItem) -> SendResult:
        """A message of its own in its channel: a planned window's, or the weekly digest."""
        rendered = render(item, self._steps, threaded=False)
        if isinstance(rendered, Failed):
            return rendered
        text, blocks, extra = rendered
        return self._post(item, item.channel or "", text, blocks, extra)

    def _post(
        self,
        item: OutboxItem,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]],
        extra: dict[str, Any],
    ) -> Sent:
        """Post an item's message, carrying what finds it again after a lost answer."""
        response = self._client.chat_postMessage(
            channel=channel,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            metadata={"event_type": METADATA_EVENT, "event_payload": _payload(item)},
            **extra,
        )
        return Sent(message=MessageRef(channel=str(response["channel"]), ts=str(response["ts"])))

    def _send(self, item: OutboxItem, session: GoSession, posted: Posted) -> SendResult:
        if item.kind == "playbook" and (edited := self._edit_run(session, item, posted)):
            return Sent(message=edited, posted=False)
        thread = posted.post
        handover = isinstance(item.data, TimelinePayload) and item.data.entry.kind == "handover"
        if handover and session.active:
            self._show_post(session, thread)  # the post names the owner
        if item.kind == "ended":
            thread = self._show_post(session, thread)
        rendered = render(item, self._steps, threaded=thread is not None)
        if isinstance(rendered, Failed):
            return rendered
        text, blocks, extra = rendered
        channel = thread.channel if thread else item.channel
        if not channel:
            return Failed(error="no channel to post to (set GOBOT_CHANNEL)", permanent=True)
        if item.kind != "snapshot" and thread is not None:
            extra["thread_ts"] = thread.ts
        return self._post(item, channel, text, blocks, extra)

    def _show_post(self, session: GoSession, post: MessageRef | None) -> MessageRef | None:
        """Edit the session's post to show it as it is now (before any reply, so that a retry
        finds what landed after); the thread replies go to (None: the post is gone)."""
        if post is None:
            return None
        return self._edit(
            post,
            snapshot_text(session),
            snapshot_message(session, self._steps),
            keep_thread=True,
        )

    def _edit_run(self, session: GoSession, item: OutboxItem, posted: Posted) -> MessageRef | None:
        """Show a run's new state: the post's progress line (first, so that a retry finds what
        landed), then the playbook message in place: the one known, or one that landed
        unrecorded (a post whose answer was lost, by this item or one it replaced). None: the
        playbook message is to be posted (there is none yet, or it is gone)."""
        if session.active and (posted.playbook or session.playbook):
            self._show_post(session, posted.post)
        known = posted.playbook
        if known is not None:
            edited = self._edit(
                known,
                playbook_text(session, self._steps),
                playbook_message(session, self._steps),
                keep_thread=False,
            )
            if edited is not None:
                return edited
        # Only a retry, or an item owed by a change (it may have replaced one whose post
        # landed unrecorded), needs to look; the start's first post does not.
        started = session.started_at_utc
        look = item.maybe_sent or (started is not None and item.created_at_utc > started)
        landed = self._find(item, posted.post, since=started) if look else None
        if landed is None or landed == known:
            return None
        return self._edit(
            landed,
            playbook_text(session, self._steps),
            playbook_message(session, self._steps),
            keep_thread=False,
        )

    def _edit(
        self, message: MessageRef, text: str, blocks: list[dict[str, Any]], *, keep_thread: bool
    ) -> MessageRef | None:
        """Edit a message in place (a retry may repeat it): the message, or None if it was
        deleted. One too old to edit is kept as it is (`keep_thread`: the post, whose thread
        still takes replies) or, for the playbook message, None too: it is posted anew."""
        try:
            self._client.chat_update(
                channel=message.channel, ts=message.ts, text=text, blocks=blocks
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error not in GONE_ERRORS:
                raise
            log.warning("message %s in %s cannot be edited: %s", message.ts, message.channel, error)
            return message if keep_thread and error != "message_not_found" else None
        return message

    def _find(
        self, item: OutboxItem, thread: MessageRef | None, since: datetime | None = None
    ) -> MessageRef | None:
        """After an attempt whose outcome is unknown: did that message land after all? Looks
        at what was posted since the item was first owed, page by page (at most
        LOOKUP_PAGES pages of 200: recovery only, within Tier 3's 50 calls a minute).
        `since` (the session's start, for a playbook item): any playbook message of the item's
        session posted since then (an earlier item that was replaced may have posted it)."""
        playbook = since is not None
        oldest = f"{(since or item.created_at_utc).timestamp() - 1:.6f}"
        in_thread = item.kind != "snapshot" and thread is not None
        channel = thread.channel if in_thread and thread is not None else item.channel or ""
        cursor: str | None = None
        for _ in range(LOOKUP_PAGES):
            if in_thread and thread is not None:
                response = self._client.conversations_replies(
                    channel=channel,
                    ts=thread.ts,
                    oldest=oldest,
                    cursor=cursor,
                    include_all_metadata=True,
                    limit=200,
                )
            else:
                response = self._client.conversations_history(
                    channel=channel,
                    oldest=oldest,
                    cursor=cursor,
                    include_all_metadata=True,
                    limit=200,
                )
            for message in response.get("messages") or []:
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if payload.get("outbox_id") == item.id or (
                    playbook and payload.get("playbook_of") == item.session_id
                ):
                    return MessageRef(channel=channel, ts=str(message["ts"]))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        return None

    def tell_operator(self, item: OutboxItem, problem: str) -> None:
        if not item.reply_to:
            return
        text = (
            f":warning: gobot could not post the GO session {item.kind} message: "
            f"{problem_hint(problem)}"
        )
        try:
            WebhookClient(item.reply_to, timeout=SLACK_TIMEOUT_SECONDS).send(
                text=text, response_type="ephemeral", replace_original=False
            )
        except (SlackClientError, OSError) as exc:
            log.warning("could not tell the operator about %s: %s", item.id, exc)
