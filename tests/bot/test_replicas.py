"""Several replicas: two `gobot serve` processes, one PostgreSQL, one fake Slack."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.dev.fake_slack import FakeSlack
from tests.bot.conftest import ServeProcess, block_text, signed_headers
from tests.conftest import wait_until

postgres_only = pytest.mark.parametrize("store_settings", ["postgres"], indirect=True)
NUMBER = re.compile(r"\(reminder (\d+)\)")
FAST = {
    "GOBOT_REMIND_AFTER": "1s",
    "GOBOT_REMIND_EVERY": "1s",
    "GOBOT_TICK": "200ms",
    "GOBOT_WATCH_EVERY": "1h",
    "GOBOT_SLACK_TIMEOUT": "1s",
}


def pg_env(store_settings: dict[str, Any], **extra: str) -> dict[str, str]:
    return {
        "GOBOT_STORE": "postgres",
        "GOBOT_DATABASE_URL": str(store_settings["database_url"]),
        **extra,
    }


def reminder_numbers(fake: FakeSlack) -> list[int]:
    found = []
    for call in fake.calls_to("chat.postMessage"):
        match = NUMBER.search(block_text(call.params))
        if match:
            found.append(int(match.group(1)))
    return found


@pytest.mark.slow
@postgres_only
def test_fifty_concurrent_starts_across_two_replicas_make_one_session(
    fake_slack: FakeSlack, green: Path, store_settings: dict[str, Any]
) -> None:
    env = pg_env(store_settings)
    with (
        ServeProcess.start(green, fake_slack, **env) as one,
        ServeProcess.start(green, fake_slack, **env) as two,
    ):
        replicas = [one.harness(fake_slack), two.harness(fake_slack)]

        def start(n: int) -> str:
            return replicas[n % 2].run("/go-start", f"racer {n}", user=f"U{n:03d}")

        with ThreadPoolExecutor(max_workers=25) as pool:
            replies = list(pool.map(start, range(50)))
    assert sum("GO session started" in reply for reply in replies) == 1
    refusals = [reply for reply in replies if "already active" in reply]
    assert len(refusals) == 49
    snapshots = [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if "GO session started" in block_text(c.params)
    ]
    assert len(snapshots) == 1


@pytest.mark.slow
@postgres_only
def test_each_reminder_slot_once_across_replicas_even_when_one_is_killed(
    fake_slack: FakeSlack, green: Path, store_settings: dict[str, Any]
) -> None:
    env = pg_env(store_settings, **FAST)
    with (
        ServeProcess.start(green, fake_slack, **env) as one,
        ServeProcess.start(green, fake_slack, **env) as two,
    ):
        assert "GO session started" in one.harness(fake_slack).run("/go-start", "launch", user="U1")
        assert fake_slack.wait_for(lambda f: len(reminder_numbers(f)) >= 4, timeout=30)
        one.kill()
        before = len(reminder_numbers(fake_slack))
        # The survivor carries on (a lease the killed one held runs out after 8 s).
        assert fake_slack.wait_for(lambda f: len(reminder_numbers(f)) >= before + 4, timeout=60), (
            reminder_numbers(fake_slack)
        )
        assert "GO session ended" in two.harness(fake_slack).run("/go-end", "done", user="U1")
        two.wait_ticks(3)  # one that began before the end, and two after it
    numbers = reminder_numbers(fake_slack)
    # Each slot at most once; slots owed while the killed replica's lease held the queue
    # arrive as one (the latest), not as a burst.
    assert numbers == sorted(set(numbers)) and numbers[:4] == [1, 2, 3, 4], numbers
    assert len(fake_slack.messages) == len(fake_slack.calls_to("chat.postMessage"))


@pytest.mark.slow
@postgres_only
def test_a_request_replayed_to_another_replica_acts_no_more(
    fake_slack: FakeSlack, green: Path, store_settings: dict[str, Any]
) -> None:
    env = pg_env(store_settings)
    with (
        ServeProcess.start(green, fake_slack, **env) as one,
        ServeProcess.start(green, fake_slack, **env) as two,
    ):
        first, second = one.harness(fake_slack), two.harness(fake_slack)
        assert "GO session started" in first.run("/go-start", "launch", user="U1")
        body, token = first.command_body("/go-end", "done", user="U1")
        captured = signed_headers(body)
        assert first.post(body, captured).status_code == 200
        assert fake_slack.wait_for(lambda f: any(c.method == token for c in f.responses))
        assert "GO session started" in second.run("/go-start", "newer", user="U2")
        replay = second.post(body, captured)  # captured on one replica, replayed to the other
        assert replay.status_code == 200
        wait_until(lambda: 'outcome="replayed"' in two.metrics(), what="the replay refused")
        assert "Active GO session" in second.run("/go-session", user="U3")
    ended = [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if "Session ended" in block_text(c.params)
    ]
    assert len(ended) == 1
