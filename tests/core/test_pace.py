"""Slack's budget as one app: the buckets on an injected clock, and every delivery path of the
services (right after a command, a tick's pass) taking from them alike, on both stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from core.outbox import Failed
from core.pace import CHANNEL_BURST, SlackPace
from core.services import Services
from tests.conftest import FakeClock
from tests.core.fakes import FakeTransport


def test_a_channel_takes_a_short_burst_then_one_message_a_second(clock: FakeClock) -> None:
    pace = SlackPace(clock, per_minute=6000)
    assert [pace.take("C1") for _ in range(CHANNEL_BURST + 1)] == [True] * CHANNEL_BURST + [False]
    assert pace.take("C2")  # another channel has its own
    clock.advance(timedelta(seconds=1))
    assert pace.take("C1") and not pace.take("C1")


def test_the_app_wide_budget_holds_every_channel_to_its_rate(clock: FakeClock) -> None:
    """60 a minute, a burst of two seconds' worth: in any minute at most 60 + 2 go, whatever
    the number of channels asking."""
    pace = SlackPace(clock, per_minute=60)
    sent = 0
    for second in range(60):
        sent += sum(pace.take(f"C{second}-{n}") for n in range(50))
        clock.advance(timedelta(seconds=1))
    assert sent == 60 + 2 - 1  # the burst, then one a second (the last second's not yet)
    assert pace.wait() == timedelta(0)


def test_a_refusal_takes_nothing_and_says_how_long_to_wait(clock: FakeClock) -> None:
    pace = SlackPace(clock, per_minute=60)
    assert pace.take("C1") and pace.take("C2") and not pace.take("C3")
    assert pace.wait() == timedelta(seconds=1)
    clock.advance(timedelta(seconds=1))
    assert pace.take("C3")  # C3's own bucket was not spent by the refusal


def test_idle_channels_are_forgotten(clock: FakeClock) -> None:
    pace = SlackPace(clock, per_minute=6000)
    for n in range(1000):
        pace.take(f"C{n}")
    assert pace.channels() == 1000
    clock.advance(timedelta(seconds=CHANNEL_BURST))  # every bucket is full again
    assert pace.take("C-new")
    assert pace.channels() == 1


def test_many_notes_in_one_channel_are_paced_on_every_path(
    wired: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    """Notes right after their command and the tick's passes: no more than the burst, then
    about one a second; every note is delivered once, in order."""
    services = wired(session_scope="channel")
    assert services.delivery is not None
    services.sessions.start("U1", "C1", "")
    pending = 0
    for n in range(20):
        added = services.workspace.note("U1", "C1", f"note {n}")
        pending += added.delivery.pending
    assert len(transport.sent) == CHANNEL_BURST  # the start's two messages and three notes
    assert pending == 20 - (CHANNEL_BURST - 2)
    for second in range(1, 30):
        clock.advance(timedelta(seconds=1))
        services.delivery.deliver_ready()
        services.delivery.deliver_ready()  # a second pass in the same instant sends nothing
        assert len(transport.sent) <= min(22, CHANNEL_BURST + second)
    notes = [item.data for item in transport.items if item.kind == "timeline"]
    assert [note.entry.text for note in notes] == [f"note {n}" for n in range(20)]
    assert services.outbox.depth() == 0


def test_a_429_pauses_slack_for_every_path_but_not_github(
    wired: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    services = wired(session_scope="channel")
    assert services.delivery is not None
    transport.fail("snapshot", Failed(error="ratelimited", retry_after=30))
    assert services.sessions.start("U1", "C1", "").delivery.pending
    assert services.sessions.start("U2", "C2", "").delivery.pending  # paused: not even tried
    assert transport.kinds() == []
    clock.advance(timedelta(seconds=29))
    services.delivery.deliver_ready()
    assert transport.kinds() == []
    clock.advance(timedelta(seconds=1))
    services.delivery.deliver_ready()
    assert sorted(transport.kinds()) == ["snapshot", "snapshot"]
