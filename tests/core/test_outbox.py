"""core/outbox.py: the rules every store applies to owed messages: each kind's payload read back
as its own model, what is due, leases, retries with backoff, waking; pure, no store."""

from __future__ import annotations

from datetime import timedelta
from typing import get_args

import pytest

from core.gate_models import Deployment, GateDecision, GateRequest
from core.models import Approval, GoSession, GoWindow, MessageRef, TimelineEntry
from core.outbox import (
    MAX_BACKOFF,
    PAYLOADS,
    ApprovalPayload,
    DeployPayload,
    DigestPayload,
    DriftPayload,
    Failed,
    GatePayload,
    GithubPayload,
    Kind,
    OutboxItem,
    Payload,
    ReminderPayload,
    SessionPayload,
    TimelinePayload,
    WindowPayload,
    backoff,
    being_sent,
    is_ready,
    leased,
    new_item_id,
    notice_item,
    outbox_item,
    retried,
    woken,
)
from tests.conftest import T0

SESSION = GoSession(
    active=True, id="s1", scope="workspace", channel="C1", started_at_utc=T0, started_by="U1"
)
WINDOW = GoWindow(
    id="w1",
    scope="workspace",
    channel="C1",
    starts_at_utc=T0 + timedelta(hours=3),
    duration_seconds=3600,
    scheduled_by="U1",
)
SECOND = timedelta(seconds=1)
CALLBACK = "https://api.github.com/repos/org/app/actions/runs/7/deployment_protection_rule"
DEPLOYMENT = Deployment(
    id="d1",
    delivery="g1",
    repository="org/app",
    environment="production",
    channel="C1",
    scope="workspace",
    sha="abc1234def",
    creator="octocat",
    installation_id=42,
    callback_url=CALLBACK,
    asked_at_utc=T0,
)

PAYLOAD_OF: dict[str, Payload] = {
    "snapshot": SessionPayload(session=SESSION),
    "ended": SessionPayload(session=SESSION.model_copy(update={"active": False})),
    "reminder": ReminderPayload(
        session=SESSION,
        number=2,
        elapsed_seconds=7200.0,
        escalate=True,
        to_planned_end_seconds=-60.0,
        band="B",
        status="yellow",
    ),
    "drift": DriftPayload(
        session=SESSION,
        from_band="A",
        to_band="C",
        from_status="green",
        to_status="red",
        reasons=["db down"],
        cone_reason="KPIs red",
    ),
    "playbook": SessionPayload(session=SESSION),
    "timeline": TimelinePayload(
        session=SESSION, entry=TimelineEntry(kind="note", at_utc=T0, by="U1", text="hi")
    ),
    "window": WindowPayload(window=WINDOW, what="prompt"),
    "digest": DigestPayload(
        week="2026-W01",
        since_utc=T0 - timedelta(days=7),
        until_utc=T0,
        count=1,
        total_seconds=60,
        longest_seconds=60,
        longest_id="s1",
        outcomes={"completed": 1},
        steps_done=9,
        steps_total=9,
        all_steps_done=1,
        drifted=0,
        overruns=0,
        windows=[WINDOW],
    ),
    "gate": GatePayload(
        request=GateRequest(environment="production", ref="main", requester="ci"),
        decision=GateDecision(
            allowed=False,
            state="denied",
            reason="No GO session is active here: start one with /go-start.",
            health="green",
            decided_at_utc=T0,
        ),
    ),
    "approval": ApprovalPayload(
        session=SESSION,
        approval=Approval(key="migrate", asked_by="U1", asked_at_utc=T0, notes="v42"),
        message=MessageRef(channel="C1", ts="1.2"),
    ),
    "deploy": DeployPayload(deployment=DEPLOYMENT),
    "github": GithubPayload(
        deployment_id="d1",
        callback_url=CALLBACK,
        installation_id=42,
        environment="production",
        state="approved",
        comment="GO session s1 is active (band A, health green).",
    ),
}


def item(**update: object) -> OutboxItem:
    base = outbox_item("snapshot", SessionPayload(session=SESSION), T0, item_id="i1")
    return base.model_copy(update=update)


def test_every_kind_has_its_payload_model() -> None:
    assert set(PAYLOADS) == set(get_args(Kind)) == set(PAYLOAD_OF)
    for kind, payload in PAYLOAD_OF.items():
        assert type(payload) is PAYLOADS[kind]


@pytest.mark.parametrize("kind", sorted(PAYLOAD_OF))
def test_an_item_read_back_holds_the_payload_of_its_kind(kind: Kind) -> None:
    payload = PAYLOAD_OF[kind]
    owed = notice_item(
        kind, payload, key="k1", scope="workspace", channel="C1", now=T0, item_id="i1"
    )
    stored = owed.model_dump(mode="json")
    assert stored["created_at_utc"] == stored["next_attempt_utc"] == "2026-01-01T09:00:00.000000Z"
    read = OutboxItem.model_validate(stored)
    assert type(read.data) is type(payload)
    assert read == owed
    assert read.data.model_dump() == payload.model_dump()


def test_a_new_item_is_due_at_once_and_keyed_by_what_owes_it() -> None:
    owed = notice_item(
        "window",
        PAYLOAD_OF["window"],
        key="window:w1",
        scope="workspace",
        channel="C1",
        now=T0,
        item_id="i9",
        reply_to="U1",
        actor="U2",
    )
    assert owed.model_dump(exclude={"data"}) == {
        "id": "i9",
        "seq": 0,
        "session_id": "window:w1",
        "scope": "workspace",
        "kind": "window",
        "channel": "C1",
        "actor": "U2",
        "reply_to": "U1",
        "created_at_utc": T0,
        "attempts": 0,
        "next_attempt_utc": T0,
        "lease_until_utc": None,
        "maybe_sent": False,
        "last_error": None,
        "operator_told": False,
    }
    assert is_ready(owed, T0) and not is_ready(owed, T0 - SECOND)


def test_a_sessions_item_takes_its_key_scope_and_channel_from_the_session() -> None:
    owed = outbox_item("ended", SessionPayload(session=SESSION), T0, item_id="i2", actor="U1")
    assert (owed.session_id, owed.scope, owed.channel, owed.kind, owed.actor) == (
        "s1",
        "workspace",
        "C1",
        "ended",
        "U1",
    )


def test_item_ids_are_fresh() -> None:
    ids = {new_item_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 32 and set(i) <= set("0123456789abcdef") for i in ids)


def test_what_is_due_is_past_its_next_attempt_and_not_held() -> None:
    held = item(lease_until_utc=T0 + 10 * SECOND)
    assert being_sent(held, T0) and not is_ready(held, T0)
    assert being_sent(held, T0 + 9 * SECOND)
    assert not being_sent(held, T0 + 10 * SECOND) and is_ready(held, T0 + 10 * SECOND)
    later = item(next_attempt_utc=T0 + 5 * SECOND)
    assert not is_ready(later, T0 + 4 * SECOND) and is_ready(later, T0 + 5 * SECOND)


def test_a_lease_counts_the_attempt_and_a_held_item_is_not_taken() -> None:
    taken = leased(item(), T0, T0 + 30 * SECOND)
    assert taken is not None
    assert (taken.lease_until_utc, taken.attempts, taken.maybe_sent) == (T0 + 30 * SECOND, 1, False)
    assert leased(taken, T0 + 29 * SECOND, T0 + 60 * SECOND) is None


def test_taking_over_an_expired_lease_marks_the_item_maybe_sent() -> None:
    first = leased(item(), T0, T0 + 30 * SECOND)
    assert first is not None
    again = leased(first, T0 + 30 * SECOND, T0 + 60 * SECOND)
    assert again is not None
    assert (again.lease_until_utc, again.attempts, again.maybe_sent) == (T0 + 60 * SECOND, 2, True)


def test_a_retry_releases_the_item_until_its_next_attempt() -> None:
    taken = leased(item(), T0, T0 + 30 * SECOND)
    assert taken is not None
    later = T0 + 4 * SECOND
    released = retried(taken, later, Failed(error="ratelimited"))
    assert (released.next_attempt_utc, released.lease_until_utc, released.last_error) == (
        later,
        None,
        "ratelimited",
    )
    assert (released.maybe_sent, released.operator_told, released.attempts) == (False, False, 1)
    assert not is_ready(released, later - SECOND) and is_ready(released, later)
    unknown = retried(released, later, Failed(error="timeout", maybe_sent=True), told=True)
    assert (unknown.maybe_sent, unknown.operator_told) == (True, True)
    once_unknown = retried(unknown, later, Failed(error="ratelimited"))
    assert (once_unknown.maybe_sent, once_unknown.operator_told) == (True, True)  # never unset
    assert once_unknown.last_error == "ratelimited"


def test_waking_makes_a_waiting_item_due_now_never_later() -> None:
    waiting = item(next_attempt_utc=T0 + timedelta(minutes=5))
    assert woken(waiting, T0 + SECOND).next_attempt_utc == T0 + SECOND
    due = item(next_attempt_utc=T0)
    assert woken(due, T0 + SECOND).next_attempt_utc == T0


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(0, 2), (1, 2), (2, 4), (3, 8), (8, 256), (9, 300), (46, 300)],
)
def test_backoff_doubles_from_two_seconds_up_to_five_minutes(attempts: int, seconds: int) -> None:
    assert backoff(attempts) == timedelta(seconds=seconds)
    assert backoff(attempts) <= MAX_BACKOFF == timedelta(minutes=5)


@pytest.mark.parametrize("attempts", [47, 100, 10_000])
def test_backoff_stays_at_five_minutes_however_many_attempts(attempts: int) -> None:
    assert backoff(attempts) == MAX_BACKOFF


def test_a_message_owed_carries_its_session_without_the_timeline() -> None:
    """No message shows the timeline; copied into each message owed, a long one made a session's
    queue grow with the square of its notes while Slack was out of reach."""
    entry = TimelineEntry(kind="note", at_utc=T0, by="U1", text="canary fine")
    session = GoSession(active=True, id="s1", scope="workspace", timeline=[entry])
    payload = TimelinePayload(session=session, entry=entry)
    assert payload.session.timeline == [] and payload.session.id == "s1"
    assert session.timeline == [entry]  # the session itself is as it was
    stored = outbox_item("timeline", payload, T0, item_id="i1").model_dump(mode="json")
    assert stored["data"]["session"]["timeline"] == []
