"""The outbox: every Slack message the bot owes, recorded before it is sent, and the rules
every store applies to it.

Items are written in the same unit of work as the change that owes them, delivered in order
per session (only a session's first pending item is ever ready), leased so that one process
sends each, retried with backoff, and dropped only once delivered or judged undeliverable.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.models import GoSession, MessageRef

Kind = Literal["snapshot", "ended", "reminder", "drift"]  # ended: update the post + summary
SESSION_BOUND: tuple[Kind, ...] = ("reminder", "drift")  # pointless once the session has ended
MAX_BACKOFF = timedelta(minutes=5)


class OutboxItem(BaseModel):
    id: str
    seq: int = 0
    session_id: str
    scope: str
    kind: Kind
    channel: str | None
    data: dict[str, Any] = Field(default_factory=dict)
    actor: str | None = None
    reply_to: str | None = None
    created_at_utc: str
    attempts: int = 0
    next_attempt_utc: str
    lease_until_utc: str | None = None
    maybe_sent: bool = False
    last_error: str | None = None


def is_ready(item: OutboxItem, now_utc: str) -> bool:
    """Due, and not held by a sender."""
    return item.next_attempt_utc <= now_utc and not being_sent(item, now_utc)


def being_sent(item: OutboxItem, now_utc: str) -> bool:
    return item.lease_until_utc is not None and item.lease_until_utc > now_utc


def leased(current: OutboxItem, now_utc: str, until_utc: str) -> OutboxItem | None:
    """The item taken for sending until `until_utc`, or None if another sender holds it.
    Taking over an expired lease marks it `maybe_sent`: its sender died mid-attempt."""
    if being_sent(current, now_utc):
        return None
    return current.model_copy(
        update={
            "lease_until_utc": until_utc,
            "attempts": current.attempts + 1,
            "maybe_sent": current.maybe_sent or current.lease_until_utc is not None,
        }
    )


def retried(current: OutboxItem, next_attempt_utc: str, error: str, maybe_sent: bool) -> OutboxItem:
    """The item released after a failed attempt, due again at `next_attempt_utc`."""
    return current.model_copy(
        update={
            "next_attempt_utc": next_attempt_utc,
            "lease_until_utc": None,
            "last_error": error,
            "maybe_sent": current.maybe_sent or maybe_sent,
        }
    )


def backoff(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s … capped at five minutes."""
    return min(MAX_BACKOFF, timedelta(seconds=2 ** max(1, attempts)))


def new_item_id() -> str:
    return uuid.uuid4().hex


def outbox_item(
    session: GoSession,
    kind: Kind,
    now_utc: str,
    *,
    item_id: str,
    data: dict[str, Any] | None = None,
    reply_to: str | None = None,
    actor: str | None = None,
) -> OutboxItem:
    """An item owed for `session`; it carries the session as it was, for rendering."""
    return OutboxItem(
        id=item_id,
        session_id=session.id or "",
        scope=session.scope or "",
        kind=kind,
        channel=session.channel,
        data={"session": session.model_dump(mode="json"), **(data or {})},
        actor=actor,
        reply_to=reply_to,
        created_at_utc=now_utc,
        next_attempt_utc=now_utc,
    )


class Sent(BaseModel):
    message: MessageRef | None = None


class Failed(BaseModel):
    """A failed attempt: `permanent` ones are not retried; `maybe_sent` means the outcome is
    unknown (a timeout) and the next attempt must look before it posts again."""

    error: str
    permanent: bool = False
    retry_after: float | None = None
    maybe_sent: bool = False


SendResult = Sent | Failed
