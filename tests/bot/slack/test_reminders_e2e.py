"""Reminders end to end: `gobot serve` processes with short real intervals and the fake Slack."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.dev.fake_slack import Call, FakeSlack
from tests.bot.conftest import ServeProcess, SlackHarness, block_text, posts
from tests.conftest import FakeClock

FAST = {
    "GOBOT_REMIND_AFTER": "1s",
    "GOBOT_REMIND_EVERY": "1s",
    "GOBOT_TICK": "200ms",
    "GOBOT_ESCALATE_AFTER": "1h",
    "GOBOT_WATCH_EVERY": "1h",
    "GOBOT_SLACK_TIMEOUT": "1s",
}
NUMBER = re.compile(r"\(reminder (\d+)\)")


def reminder_posts(fake: FakeSlack) -> list[Call]:
    return [c for c in fake.calls_to("chat.postMessage") if NUMBER.search(block_text(c.params))]


def numbers(fake: FakeSlack) -> list[int]:
    found = []
    for call in reminder_posts(fake):
        match = NUMBER.search(block_text(call.params))
        assert match is not None
        found.append(int(match.group(1)))
    return found


@pytest.mark.slow
def test_reminders_arrive_in_the_thread_and_stop_after_the_end(
    fake_slack: FakeSlack, green: Path
) -> None:
    with ServeProcess.start(green, fake_slack, **FAST) as server:
        slack = server.harness(fake_slack)
        assert "GO session started" in slack.run("/go-start", "remind me", user="U1")
        snapshot = fake_slack.wait_for_calls("chat.postMessage")[0]
        assert fake_slack.wait_for(lambda f: len(reminder_posts(f)) >= 2, timeout=10)
        for call in reminder_posts(fake_slack):
            assert call.params["thread_ts"] == snapshot_ts(fake_slack, snapshot)
            assert "<@U1>" in block_text(call.params)
            buttons = [
                e["action_id"]
                for b in call.params["blocks"]
                if b["type"] == "actions"
                for e in b["elements"]
            ]
            assert buttons == [
                "go_end_session",
                "go_snooze_30m",
                "go_snooze_1h",
                "go_snooze_2h",
                "go_take_over",
            ]
        assert "GO session ended" in slack.run("/go-end", "done", user="U1")
        after_end = len(reminder_posts(fake_slack))
        time.sleep(2.0)
        assert len(reminder_posts(fake_slack)) == after_end
        assert numbers(fake_slack) == list(range(1, after_end + 1))


def snapshot_ts(fake: FakeSlack, call: Call) -> str:
    return next(m.ts for m in fake.messages.values() if m.params is call.params)


@pytest.mark.slow
def test_sigkill_and_restart_resume_reminders_without_duplicates(
    fake_slack: FakeSlack, green: Path
) -> None:
    with ServeProcess.start(green, fake_slack, **FAST) as server:
        server.harness(fake_slack).run("/go-start", "launch", user="U1")
        assert fake_slack.wait_for(lambda f: len(reminder_posts(f)) >= 2, timeout=10)
        server.kill()
    before = numbers(fake_slack)
    time.sleep(2.5)  # slots missed while down
    with ServeProcess.start(green, fake_slack, **FAST):
        # A lease the killed process held runs out first (3 x the Slack timeout + 5 s).
        assert fake_slack.wait_for(lambda f: len(reminder_posts(f)) >= len(before) + 2, timeout=20)
    after = numbers(fake_slack)
    assert after == sorted(set(after)), after  # no slot twice, none replayed
    assert after[: len(before)] == before  # slots owed while the queue waited came as one


@pytest.mark.slow
def test_two_processes_on_one_data_dir_post_each_slot_once(
    fake_slack: FakeSlack, green: Path
) -> None:
    with (
        ServeProcess.start(green, fake_slack, **FAST) as one,
        ServeProcess.start(green, fake_slack, **FAST),
    ):
        one.harness(fake_slack).run("/go-start", "launch", user="U1")
        assert fake_slack.wait_for(lambda f: len(reminder_posts(f)) >= 4, timeout=15)
        one.harness(fake_slack).run("/go-end", "done", user="U1")
    got = numbers(fake_slack)
    assert got == list(range(1, len(got) + 1)), got
    assert len(fake_slack.messages) == len(fake_slack.calls_to("chat.postMessage"))


def test_a_hanging_source_holds_up_neither_reminders_nor_deliveries(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    """Five sessions due for a reminder and a health check, against a health source that
    hangs: one snapshot for the whole tick, taken after the reminders went out, and no new
    thread per look at the source."""
    slack = make_harness(
        session_scope="channel",
        health_source="python:tests.slow_sources:hang",
        source_timeout="300ms",
        remind_after="1m",
        watch_every="1m",
    )
    for n in range(5):
        slack.run("/go-start", "launch", user=f"U{n}", channel=f"C{n}")
    threads = threading.active_count()
    clock.advance(timedelta(minutes=2))
    started = time.monotonic()
    slack.tick()
    took = time.monotonic() - started
    reminders = [c for c in posts(slack.fake) if "reminder" in block_text(c.params)]
    assert len(reminders) == 5
    assert took < 1.2, f"the tick took {took:.1f}s: one snapshot per session?"
    for _ in range(3):
        clock.advance(timedelta(minutes=2))
        slack.tick()
    assert threading.active_count() <= threads + 2  # one read in flight per source at most
