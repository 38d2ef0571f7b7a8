"""A change the store kept is never called lost: a full disk from every write point on, during a
note, a handover and an end, through signed requests and the loopback Slack. Whatever the
point, the operator's answer matches what the store holds, and every line owed lands once after
space is freed."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.bot.conftest import SlackHarness, block_text
from tests.conftest import FakeClock
from tests.faults import FULL_DISK, FaultyOs, fail_with

WRITE_POINTS = 24  # more than one note, with its delivery, makes


@pytest.fixture
def team(make_harness: Callable[..., SlackHarness]) -> SlackHarness:
    return make_harness()  # everyone is an operator: each write point has a user of its own


def lines_in_thread(team: SlackHarness, text: str) -> int:
    return sum(
        1
        for message in team.fake.messages.values()
        if message.thread_ts is not None and block_text(message.params).endswith(f": {text}")
    )


def deliver_all(team: SlackHarness, clock: FakeClock) -> None:
    """Ticks, a minute apart on the test clock, until nothing is owed (past every backoff)."""
    for _ in range(60):
        if team.services.outbox.depth() == 0:
            return
        clock.advance(timedelta(minutes=1))
        team.tick()
    raise AssertionError(f"{team.services.outbox.depth()} messages still owed")


def test_a_note_is_said_kept_exactly_when_it_was_kept(
    team: SlackHarness, faulty_os: Callable[[Any], None], clock: FakeClock
) -> None:
    team.run("/go-start", "launch")
    for point in range(1, WRITE_POINTS + 1):
        text = f"note at write {point}"
        faulty_os(FaultyOs(point, fail_with(errno.ENOSPC), every=True, names=FULL_DISK))
        reply = team.run("/go-note", text, user=f"U{point}")
        faulty_os(os)
        kept = any(e.text == text for e in team.services.sessions.get("C1").timeline)
        if kept:
            assert "Added to the session's timeline" in reply, (point, reply)
            assert "Nothing changed" not in reply and "Not added" not in reply, (point, reply)
        else:
            assert "Not added: the data disk is full. Nothing changed" in reply, (point, reply)
    deliver_all(team, clock)
    timeline = [e.text for e in team.services.sessions.get("C1").timeline]
    for point in range(1, WRITE_POINTS + 1):
        text = f"note at write {point}"
        assert lines_in_thread(team, text) == timeline.count(text) <= 1, point


@pytest.mark.parametrize("point", range(1, 16))
def test_an_end_is_said_done_exactly_when_it_was_done(
    team: SlackHarness, faulty_os: Callable[[Any], None], clock: FakeClock, point: int
) -> None:
    team.run("/go-start", "launch")
    faulty_os(FaultyOs(point, fail_with(errno.ENOSPC), every=True, names=FULL_DISK))
    reply = team.run("/go-end", "done")
    faulty_os(os)
    ended = not team.services.sessions.get("C1").active
    if ended:
        assert "GO session ended" in reply and "Nothing changed" not in reply, reply
    else:
        assert "Not ended" in reply and "Nothing changed" in reply, reply
    deliver_all(team, clock)
    summaries = team.fake.calls_to("chat.postMessage")
    assert sum("GO session ended" in str(c.params.get("text")) for c in summaries) == int(ended)
