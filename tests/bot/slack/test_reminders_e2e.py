"""Reminders end to end: `gobot serve` processes with short real intervals and the fake Slack."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.bootstrap import build_services
from bot.dev.fake_slack import Call, FakeSlack
from bot.settings import Settings
from tests import slow_sources
from tests.bot.conftest import ServeProcess, SlackHarness, block_text, posts
from tests.conftest import FakeClock, wait_until

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
        assert fake_slack.wait_for(lambda f: len(reminder_posts(f)) >= 2, timeout=30)
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
        server.wait_ticks(2)  # a reminder being sent as the session ended has landed
        after_end = len(reminder_posts(fake_slack))
        server.wait_ticks(8)  # a reminder would be due in 5 (every 1 s, a tick every 200 ms)
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
        assert fake_slack.wait_for(lambda f: len(reminder_posts(f)) >= 2, timeout=30)
        server.kill()
    before = numbers(fake_slack)
    due = build_services(Settings(data_dir=green)).sessions.get().reminder.next_due_utc
    assert due is not None
    # two slots missed while down (the one due and the next, a second later)
    wait_until(lambda: datetime.now(UTC) > due + timedelta(seconds=1.2), what="two slots missed")
    with ServeProcess.start(green, fake_slack, **FAST):
        # A lease the killed process held runs out first (3 x the Slack timeout + 5 s).
        assert fake_slack.wait_for(lambda f: len(reminder_posts(f)) >= len(before) + 2, timeout=60)
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
        assert fake_slack.wait_for(lambda f: len(reminder_posts(f)) >= 4, timeout=30)
        one.harness(fake_slack).run("/go-end", "done", user="U1")
    got = numbers(fake_slack)
    assert got == list(range(1, len(got) + 1)), got
    assert len(fake_slack.messages) == len(fake_slack.calls_to("chat.postMessage"))


def test_a_hanging_source_holds_up_neither_reminders_nor_deliveries(
    make_harness: Callable[..., SlackHarness], clock: FakeClock, held_health: str
) -> None:
    """Five sessions due for a reminder and a health check, against a health source that
    hangs: the reminders go out, and no new thread per look at the source."""
    slack = make_harness(
        session_scope="channel",
        health_source=held_health,
        source_timeout="300ms",
        remind_after="1m",
        watch_every="1m",
    )
    for n in range(5):
        slack.run("/go-start", "launch", user=f"U{n}", channel=f"C{n}")
    threads = threading.active_count()
    clock.advance(timedelta(minutes=2))
    slack.tick()
    reminders = [c for c in posts(slack.fake) if "reminder" in block_text(c.params)]
    assert len(reminders) == 5
    for _ in range(3):
        clock.advance(timedelta(minutes=2))
        slack.tick()
    assert threading.active_count() <= threads + 2  # one read in flight per source at most


def test_a_tick_takes_one_snapshot_for_every_due_health_check(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    slack = make_harness(
        session_scope="channel",
        health_source="python:tests.slow_sources:counted",
        remind_after="1h",
        watch_every="1m",
    )
    for n in range(5):
        slack.run("/go-start", "launch", user=f"U{n}", channel=f"C{n}")
    clock.advance(timedelta(minutes=2))
    slow_sources.READS.clear()
    slack.tick()
    assert slow_sources.READS == [1]  # five sessions due, one read
