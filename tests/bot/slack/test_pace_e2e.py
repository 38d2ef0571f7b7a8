"""Slack paced as one app, through the real boundary: signed commands into the HTTP app, the
real WebClient against a loopback Slack that limits `chat.postMessage` per minute (on the test
clock) and answers 429 with Retry-After beyond it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.dev.fake_slack import Limit
from tests.bot.conftest import SlackHarness, block_text
from tests.conftest import FakeClock

CHANNELS = [f"C{n}" for n in range(12)]


def _drain(team: SlackHarness, clock: FakeClock, ticks: int = 60) -> None:
    for _ in range(ticks):
        if team.services.outbox.depth() == 0:
            return
        clock.advance(timedelta(seconds=1))
        team.tick()


def test_a_burst_of_sessions_never_exceeds_the_budget_and_each_message_lands_once_in_order(
    make_harness: Callable[..., SlackHarness], clock: FakeClock, store_settings: dict[str, Any]
) -> None:
    team = make_harness(session_scope="channel", slack_rate=12, **store_settings)
    limit = team.fake.limit(
        "chat.postMessage", Limit(12, retry_after=30, clock=lambda: clock.now().timestamp())
    )
    for n, channel in enumerate(CHANNELS):
        assert "GO session started" in team.run("/go-start", "go", f"U{n}", channel)
    _drain(team, clock, ticks=200)
    assert team.services.outbox.depth() == 0
    assert limit.refused == 0  # never over 12 in any minute of the test clock
    posts = team.fake.calls_to("chat.postMessage")
    assert len(posts) == 2 * len(CHANNELS)  # each snapshot and playbook message once
    for channel in CHANNELS:
        texts = [str(c.params["text"]) for c in posts if c.params["channel"] == channel]
        assert len(texts) == 2 and texts[1].startswith("GO playbook:")  # in order


def test_an_answer_comes_before_the_messages_queued_for_slack(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    """With Slack's budget spent, a note in another channel is answered at once (the clock
    does not move: a sender waiting for the budget would never answer) and its message follows
    in a later pass."""
    team = make_harness(session_scope="channel", slack_rate=4)
    for n, channel in enumerate(CHANNELS[:3]):
        team.run("/go-start", "go", f"U{n}", channel)
    team.run("/go-start", "go", channel="CNOTE")
    sent = len(team.fake.calls_to("chat.postMessage"))
    reply = team.run("/go-note", "still here", channel="CNOTE")
    assert "Added to the session's timeline" in reply
    assert len(team.fake.calls_to("chat.postMessage")) == sent  # answered before it is sent
    _drain(team, clock, ticks=120)
    notes = [c for c in team.fake.calls_to("chat.postMessage") if c.params["channel"] == "CNOTE"]
    assert "still here" in block_text(notes[-1].params)


def test_a_429_pauses_every_channel_for_its_retry_after(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    """Slack's limit is lower than gobot's budget: its 429 stops every sender until
    Retry-After, then every message lands once."""
    team = make_harness(session_scope="channel", slack_rate=600)
    limit = team.fake.limit(
        "chat.postMessage", Limit(3, retry_after=30, clock=lambda: clock.now().timestamp())
    )
    for n, channel in enumerate(CHANNELS[:4]):
        team.run("/go-start", "go", f"U{n}", channel)
    assert limit.refused == 1  # the fourth post: then nothing more is tried
    clock.advance(timedelta(seconds=29))
    team.tick()
    assert limit.refused == 1 and len(limit.accepted) == 3
    _drain(team, clock, ticks=400)
    assert team.services.outbox.depth() == 0
    posts = [c for c in team.fake.messages.values() if c.thread_ts is None]
    assert sorted(m.channel for m in posts) == sorted(CHANNELS[:4])  # each snapshot once
