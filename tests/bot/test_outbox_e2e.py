"""The outbox against a failing Slack: 429 with Retry-After, 500s, and timeouts whose post did
land. Every message must arrive exactly once, in order, in the right thread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.fake_slack import Failure
from tests.bot.conftest import SlackHarness, block_text
from tests.conftest import FakeClock


def drain(slack: SlackHarness, clock: FakeClock, rounds: int = 12) -> None:
    for _ in range(rounds):
        clock.advance(timedelta(seconds=10))
        slack.tick()


def test_every_message_arrives_once_in_order_through_429_500_and_timeouts(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    slack = make_harness(slack_timeout="500ms", remind_after="60m", remind_every="60m")
    fake = slack.fake
    fake.fail("chat.postMessage", Failure(status=429, error="ratelimited", retry_after=1, times=2))
    fake.fail("chat.postMessage", Failure(status=500, error="internal_error"))
    fake.fail("chat.postMessage", Failure(delay=1.5, applied=True))  # lands, answer too late
    reply = slack.run("/go-start", "through the storm")
    assert "Slack has not taken the message yet" in reply
    drain(slack, clock, rounds=4)
    snapshots = [m for m in fake.messages.values() if m.thread_ts is None]
    assert len(snapshots) == 1, "the timed-out post landed: it must not be posted again"
    assert fake.calls_to("conversations.history"), "it was looked up before any new post"
    thread = snapshots[0].ts
    assert slack.services.sessions.get().message is not None

    clock.advance(timedelta(minutes=60))
    fake.fail("chat.postMessage", Failure(status=503, error="service_unavailable"))
    fake.fail("chat.postMessage", Failure(delay=1.5, applied=True))
    drain(slack, clock)
    slack.run("/go-end", "calm again")
    drain(slack, clock)

    replies = sorted(
        (m for m in fake.messages.values() if m.thread_ts == thread), key=lambda m: m.ts
    )
    kinds = ["reminder" if "(reminder 1)" in block_text(m.params) else "summary" for m in replies]
    assert kinds == ["reminder", "summary"]
    assert fake.calls_to("conversations.replies"), "the timed-out reminder was looked up"
    assert len(fake.calls_to("chat.update")) == 1
    assert fake.messages[(snapshots[0].channel, thread)].updates
    assert slack.services.outbox.depth() == 0
