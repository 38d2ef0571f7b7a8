from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import parse_utc
from core.errors import NoActiveSession
from core.models import MessageRef
from core.outbox import Failed, GithubPayload, OutboxItem, new_item_id, notice_item
from core.pace import CHANNEL_BURST
from core.services import Services
from tests.conftest import T0, FakeClock, audit_records
from tests.core.fakes import FakeTransport
from tests.units import committing


def events(services: Services) -> list[str]:
    return [record["event"] for record in audit_records(services)]


def test_start_and_end_owe_messages_that_are_delivered_in_order(
    wired: Callable[..., Services], transport: FakeTransport
) -> None:
    services = wired()
    change = services.sessions.start("U1", "C1", "go")
    assert change.delivery.message == MessageRef(channel="C1", ts="1.0")
    assert services.sessions.get().message == MessageRef(channel="C1", ts="1.0")
    posted = services.outbox.posted(change.session.id or "")
    assert posted.playbook == MessageRef(channel="C1", ts="2.0")  # in the thread, right after
    services.sessions.end("U1", "C1", "done")
    assert transport.kinds() == ["snapshot", "playbook", "ended", "playbook"]
    post = MessageRef(channel="C1", ts="1.0")
    assert [thread for _, _, thread in transport.sent[1:]] == [post, post, post]
    assert services.outbox.posted(change.session.id or "") == posted  # edited, not reposted
    assert services.outbox.depth() == 0


def test_a_permanent_failure_is_audited_dropped_and_the_session_kept(
    wired: Callable[..., Services], transport: FakeTransport, data_dir: Path
) -> None:
    services = wired()
    transport.fail("snapshot", Failed(error="not_in_channel", permanent=True))
    change = services.sessions.start("U1", "C1", "")
    assert change.delivery.problem == "not_in_channel"
    assert services.sessions.get().active
    assert services.outbox.depth() == 1  # the playbook message, for the next pass
    assert events(services)[-1] == "GO_POST_FAILED"
    assert transport.told == []  # the command's own reply says so


def test_transient_failures_wait_for_retry_after_and_keep_order(
    wired: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    services = wired()
    assert services.delivery is not None
    transport.fail("snapshot", Failed(error="ratelimited", retry_after=30))
    assert services.sessions.start("U1", "C1", "").delivery.pending
    services.sessions.end("U1", "C1", "")
    assert transport.sent == []  # the end's messages wait behind the snapshot
    clock.advance(timedelta(seconds=29))
    assert services.delivery.deliver_ready().attempted == 0
    clock.advance(timedelta(seconds=1))
    for _ in range(3):
        services.delivery.deliver_ready()
        clock.advance(timedelta(seconds=2))
    # the start's playbook message was owed behind the snapshot: the end owes its final state
    assert transport.kinds() == ["snapshot", "ended", "playbook"]


def test_backoff_grows_and_an_unknown_outcome_is_remembered(
    wired: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    services = wired()
    transport.fail(
        "snapshot", Failed(error="Slack timed out", maybe_sent=True), Failed(error="HTTP 500")
    )
    services.sessions.start("U1", "C1", "")
    [item] = services.outbox.ready(parse_utc("9999-12-31T00:00:00Z"))
    assert item.maybe_sent and item.attempts == 1
    assert item.next_attempt_utc == parse_utc("2026-01-01T09:00:02.000000Z")
    clock.advance(timedelta(seconds=2))
    assert services.delivery is not None
    services.delivery.deliver_ready()
    [item] = services.outbox.ready(parse_utc("9999-12-31T00:00:00Z"))
    assert item.maybe_sent and item.attempts == 2  # still True: the first may have landed
    assert item.next_attempt_utc == parse_utc("2026-01-01T09:00:06.000000Z")


def test_background_give_up_tells_the_operator(
    wired: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    services = wired()
    transport.fail(
        "snapshot", Failed(error="HTTP 500"), Failed(error="channel_not_found", permanent=True)
    )
    services.sessions.start("U1", "C1", "", reply_to="https://hooks.example/r")
    clock.advance(timedelta(seconds=2))
    assert services.delivery is not None
    services.delivery.deliver_ready()
    assert transport.told == [("snapshot", "channel_not_found")]


def test_a_leased_item_is_not_sent_by_a_second_sender(
    wired: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    first = wired()
    second = wired()
    transport.fail("snapshot", Failed(error="HTTP 500"))
    first.sessions.start("U1", "C1", "")
    clock.advance(timedelta(seconds=2))
    [item] = first.outbox.ready(parse_utc("9999-12-31T00:00:00Z"))
    now = parse_utc("2026-01-01T09:00:02.000000Z")
    until = parse_utc("2026-01-01T09:01:02.000000Z")
    assert committing(first.uow).outbox.lease(item, now, until) is not None
    assert second.delivery is not None
    assert second.delivery.deliver_ready().attempted == 0
    assert transport.sent == []


def test_a_channel_gets_a_short_burst_then_one_message_a_second(
    wired: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    """Sessions owe messages to one channel: after a short burst, about one message a second
    reaches it, whichever path sends them."""
    services = wired()
    assert services.delivery is not None
    for _ in range(CHANNEL_BURST):  # each session: 4 messages at once
        services.sessions.start("U1", "C1", "")
        services.sessions.end("U1", "C1", "")
    assert len(transport.sent) == CHANNEL_BURST  # the rest waits in the outbox
    held = services.delivery.deliver_ready()  # the same instant: the channel must wait
    assert (held.attempted, held.deferred) == (0, CHANNEL_BURST - 1)  # each later session
    clock.advance(timedelta(seconds=1))
    sent = services.delivery.deliver_ready()
    assert (sent.attempted, sent.deferred) == (1, CHANNEL_BURST - 2)
    assert len(transport.sent) == CHANNEL_BURST + 1
    for _ in range(4 * CHANNEL_BURST):
        clock.advance(timedelta(seconds=1))
        services.delivery.deliver_ready()
    assert services.outbox.depth() == 0
    by_session: dict[str, list[str]] = {}
    for kind, session, _ in transport.sent:
        by_session.setdefault(session, []).append(kind)
    assert len(by_session) == CHANNEL_BURST
    for kinds in by_session.values():  # in order; a run's playbook message owed once
        assert kinds in (
            ["snapshot", "playbook", "ended", "playbook"],
            ["snapshot", "ended", "playbook"],
        )


def test_a_reminder_being_sent_when_the_session_ends_stays_ahead_of_the_end(
    wired: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    """End drops pending reminders, but not one already leased by a sender: the end's message
    waits behind it, so no reminder can land after the end's messages."""
    services = wired(remind_after="1m", remind_every="1m")
    services.sessions.start("U1", "C1", "")
    clock.advance(timedelta(minutes=1))
    services.reminders.tick()
    [reminder] = services.outbox.ready(parse_utc("9999-12-31T00:00:00Z"))
    now = parse_utc("2026-01-01T09:01:00.000000Z")
    assert (
        committing(services.uow).outbox.lease(
            reminder, now, parse_utc("2026-01-01T09:02:00.000000Z")
        )
        is not None
    )
    services.sessions.end("U1", "C1", "")  # while the reminder is in flight
    kinds = [i.kind for i in services.outbox.ready(parse_utc("2026-01-01T09:03:00.000000Z"))]
    assert kinds == ["reminder"]  # the end waits behind the in-flight reminder
    committing(services.uow).outbox.done(reminder)  # the in-flight send finishes
    assert [i.kind for i in services.outbox.ready(parse_utc("9999-12-31T00:00:00Z"))] == ["ended"]


def test_each_change_of_a_run_is_owed_to_the_one_playbook_message(
    wired: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    services = wired()
    session = services.sessions.start("U1", "C1", "").session
    services.playbook.complete("1", "U1", channel="C1")
    assert transport.kinds() == ["snapshot", "playbook", "playbook"]
    transport.fail("playbook", Failed(error="HTTP 500"))
    services.playbook.complete("2", "U1", channel="C1")  # its edit fails and waits ...
    services.playbook.reopen("1", "U1", channel="C1")  # ... and this one's replaces it
    assert transport.kinds() == ["snapshot", "playbook", "playbook", "playbook"]
    assert services.outbox.depth() == 0
    posted = services.outbox.posted(session.id or "")
    assert posted.playbook == MessageRef(channel="C1", ts="2.0")
    with pytest.raises(NoActiveSession, match="has ended"):  # a button of an older session
        services.playbook.complete("3", "U1", channel="C1", session_id="an-older-session")
    assert services.playbook.checklist("C1").completed == 1


def github_answer(key: str) -> OutboxItem:
    payload = GithubPayload(
        deployment_id=key,
        callback_url="https://api.github.com/repos/acme/shop/actions/runs/7/deployment_protection_rule",
        installation_id=11,
        environment="production",
        state="approved",
        comment="ok",
    )
    return notice_item(
        "github",
        payload,
        key=f"github:{key}",
        scope="workspace",
        channel=None,
        now=T0,
        item_id=new_item_id(),
    )


def test_slack_and_github_are_paused_and_paced_apart(
    wired: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    """A 429 from Slack holds no answer to GitHub, a rate limit of GitHub no Slack message, and
    GitHub's answers are not held to a channel's one-a-second pace."""
    services = wired()
    assert services.delivery is not None
    transport.fail("snapshot", Failed(error="ratelimited", retry_after=30))
    assert services.sessions.start("U1", "C1", "").delivery.pending
    committing(services.uow).outbox.add([github_answer("d1"), github_answer("d2")])
    services.delivery.deliver_ready()
    assert transport.kinds() == ["github", "github"]  # in one pass, while Slack is paused

    transport.fail("github", Failed(error="rate limited", retry_after=600))
    committing(services.uow).outbox.add([github_answer("d3"), github_answer("d4")])
    services.delivery.deliver_ready()  # GitHub refuses d3 and pauses: d4 waits
    clock.advance(timedelta(seconds=30))
    services.delivery.deliver_ready()
    assert transport.kinds() == ["github", "github", "snapshot"]
    clock.advance(timedelta(minutes=10))
    services.delivery.deliver_ready()
    assert sorted(transport.kinds()[3:]) == ["github", "github", "playbook"]
