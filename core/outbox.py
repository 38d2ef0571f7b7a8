"""The outbox: every message the bot owes (to Slack, and its answers to GitHub), recorded before
it is sent, and the rules every store applies to it.

Items are written in the same unit of work as the change that owes them, delivered in order
per session (only a session's first pending item is ever ready), leased so that one process
sends each, retried with backoff, and dropped only once delivered or judged undeliverable.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, SerializeAsAny, field_validator, model_validator

from core.clock import UtcTime
from core.gate_models import Deployment, GateDecision, GateRequest
from core.models import Approval, Band, GoSession, GoWindow, Health, MessageRef, TimelineEntry
from core.rules import After, AllOf, AtOrBefore, Not, TimeRule, Times

# ended: update the post and reply with the summary; playbook: post or edit the run's message;
# timeline: one line in the thread for a note or a handover; window: a planned window's
# reminder, start prompt or missed note; digest: the weekly digest; gate: a gate decision in a
# channel with no session; approval: a request for a second operator's approval in the thread,
# or its answer shown on that request (edited in place); deploy: a GitHub deployment waiting for
# a session, in its channel; github: gobot's answer to a deployment protection rule (sent to
# GitHub, not to Slack)
Kind = Literal[
    "snapshot",
    "ended",
    "reminder",
    "drift",
    "playbook",
    "timeline",
    "window",
    "digest",
    "gate",
    "approval",
    "deploy",
    "github",
]
Destination = Literal["slack", "github"]
SESSION_BOUND: tuple[Kind, ...] = ("reminder", "drift")  # pointless once the session has ended
MAX_BACKOFF = timedelta(minutes=5)


class Payload(BaseModel):
    """What an owed message renders."""


class SessionPayload(Payload):
    """What a snapshot or end message renders: the session as it was when the message was
    owed, without its timeline: no message shows it, and it would be copied into every message
    owed (200 notes while Slack was out of reach made one session's queue 2.9 MB, now 0.27 MB)."""

    session: GoSession

    @field_validator("session")
    @classmethod
    def _without_timeline(cls, session: GoSession) -> GoSession:
        return session.model_copy(update={"timeline": []}) if session.timeline else session


class WindowPayload(Payload):
    """A planned window's reminder before it, prompt at its start, or note that it was missed."""

    window: GoWindow
    what: Literal["reminder", "prompt", "missed"]


class DigestPayload(Payload):
    """The weekly digest: the figures of the sessions that ended in [since, until), and the
    windows planned for the coming week."""

    week: str
    since_utc: UtcTime
    until_utc: UtcTime
    count: int
    total_seconds: int
    longest_seconds: int
    longest_id: str | None = None
    outcomes: dict[str, int]
    steps_done: int
    steps_total: int
    all_steps_done: int
    drifted: int
    overruns: int
    windows: list[GoWindow]


class ReminderPayload(SessionPayload):
    number: int
    elapsed_seconds: float
    escalate: bool
    to_planned_end_seconds: float | None = None
    """With a planned end: how long until it (negative: how long it is overrun)."""
    band: Band | None = None
    status: Health | None = None


class DriftPayload(SessionPayload):
    """Band or health changed while the session is open."""

    from_band: Band | None = None
    to_band: Band
    from_status: Health | None = None
    to_status: Health
    reasons: list[str] = []
    cone_reason: str = ""


class TimelinePayload(SessionPayload):
    """An entry added to the session's timeline (the session as it was just after)."""

    entry: TimelineEntry


class GatePayload(Payload):
    """A gate decision shown in a channel with no active session."""

    request: GateRequest
    decision: GateDecision


class ApprovalPayload(SessionPayload):
    """A request for a second operator's approval (the session as it was just after), or,
    answered, its answer; `message`: the request to edit in place (None: it is posted)."""

    approval: Approval
    message: MessageRef | None = None


class DeployPayload(Payload):
    """A GitHub deployment that waits for a GO session in its channel."""

    deployment: Deployment


class GithubPayload(Payload):
    """gobot's answer to a deployment protection rule: where to send it (the run's callback
    URL, as the app's installation) and what it says."""

    deployment_id: str
    callback_url: str
    installation_id: int
    environment: str
    state: Literal["approved", "rejected"]
    comment: str


PAYLOADS: dict[str, type[Payload]] = {
    "snapshot": SessionPayload,
    "ended": SessionPayload,
    "reminder": ReminderPayload,
    "drift": DriftPayload,
    "playbook": SessionPayload,
    "timeline": TimelinePayload,
    "window": WindowPayload,
    "digest": DigestPayload,
    "gate": GatePayload,
    "approval": ApprovalPayload,
    "deploy": DeployPayload,
    "github": GithubPayload,
}


def destination(kind: str) -> Destination:
    """Who an item of `kind` is sent to: each is paced and paused on its own."""
    return "github" if kind == "github" else "slack"


class OutboxItem(BaseModel):
    id: str
    seq: int = 0
    session_id: str
    scope: str
    kind: Kind
    channel: str | None
    data: SerializeAsAny[Payload]
    actor: str | None = None
    reply_to: str | None = None
    created_at_utc: UtcTime
    attempts: int = 0
    next_attempt_utc: UtcTime
    lease_until_utc: UtcTime | None = None
    maybe_sent: bool = False
    last_error: str | None = None
    operator_told: bool = False

    @model_validator(mode="before")
    @classmethod
    def _payload_of_its_kind(cls, raw: Any) -> Any:
        """`data` is read as the payload model of the item's kind."""
        if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
            payload = PAYLOADS.get(str(raw.get("kind")), SessionPayload)
            return {**raw, "data": payload.model_validate(raw["data"])}
        return raw


# A sender holds the item (its lease runs past now).
BEING_SENT: TimeRule = After("lease_until")
# Due, and no sender holds it (the first item of each session is tried when it is ready).
READY: TimeRule = AllOf((AtOrBefore("next_attempt"), Not(BEING_SENT)))


def item_times(item: OutboxItem) -> Times:
    return {"next_attempt": item.next_attempt_utc, "lease_until": item.lease_until_utc}


def is_ready(item: OutboxItem, now: datetime) -> bool:
    return READY.holds(item_times(item), now)


def being_sent(item: OutboxItem, now: datetime) -> bool:
    return BEING_SENT.holds(item_times(item), now)


def leased(current: OutboxItem, now: datetime, until: datetime) -> OutboxItem | None:
    """The item taken for sending until `until`, or None if another sender holds it.
    Taking over an expired lease marks it `maybe_sent`: its sender died mid-attempt."""
    if being_sent(current, now):
        return None
    return current.model_copy(
        update={
            "lease_until_utc": until,
            "attempts": current.attempts + 1,
            "maybe_sent": current.maybe_sent or current.lease_until_utc is not None,
        }
    )


def retried(
    current: OutboxItem, next_attempt: datetime, failure: Failed, told: bool = False
) -> OutboxItem:
    """The item released after a failed attempt, due again at `next_attempt`."""
    return current.model_copy(
        update={
            "next_attempt_utc": next_attempt,
            "lease_until_utc": None,
            "last_error": failure.error,
            "maybe_sent": current.maybe_sent or failure.maybe_sent,
            "operator_told": current.operator_told or told,
        }
    )


def woken(current: OutboxItem, now: datetime) -> OutboxItem:
    """The item due at once (what it waited for has happened)."""
    return current.model_copy(update={"next_attempt_utc": min(now, current.next_attempt_utc)})


def backoff(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s … capped at five minutes."""
    return min(MAX_BACKOFF, timedelta(seconds=2 ** min(max(1, attempts), 16)))


def new_item_id() -> str:
    return uuid.uuid4().hex


def outbox_item(
    kind: Kind,
    payload: SessionPayload,
    now: datetime,
    *,
    item_id: str,
    reply_to: str | None = None,
    actor: str | None = None,
) -> OutboxItem:
    """An item owed for `payload.session`, due now."""
    session = payload.session
    return notice_item(
        kind,
        payload,
        key=session.id or "",
        scope=session.scope or "",
        channel=session.channel,
        now=now,
        item_id=item_id,
        reply_to=reply_to,
        actor=actor,
    )


def notice_item(
    kind: Kind,
    payload: Payload,
    *,
    key: str,
    scope: str,
    channel: str | None,
    now: datetime,
    item_id: str,
    reply_to: str | None = None,
    actor: str | None = None,
) -> OutboxItem:
    """An item owed, due now; `key` orders it among the items of its session (or of what
    else owes it: a window, a digest)."""
    return OutboxItem(
        id=item_id,
        session_id=key,
        scope=scope,
        kind=kind,
        channel=channel,
        data=payload,
        actor=actor,
        reply_to=reply_to,
        created_at_utc=now,
        next_attempt_utc=now,
    )


class Sent(BaseModel):
    """Delivered: where the message is; `posted` False when no new message was posted (an
    edit in place, or a message found to have landed already)."""

    message: MessageRef | None = None
    posted: bool = True


class Failed(BaseModel):
    """A failed attempt. `permanent`: it can never succeed, drop it. `waiting`: Slack refuses
    until a person acts (invite the bot, reinstall the app, add a scope): kept, retried slowly,
    the operator told once. `maybe_sent`: the outcome is unknown (a timeout, a 5xx, an answer
    that is not Slack's), so the next attempt must look before it posts again."""

    error: str
    permanent: bool = False
    waiting: bool = False
    retry_after: float | None = None
    maybe_sent: bool = False


SendResult = Sent | Failed
