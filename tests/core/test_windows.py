"""core/windows.py: planning, moving and cancelling GO windows, Start now, and the messages a
window owes (reminder, start prompt, missed note), each once; on both stores, in process."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.errors import InvalidInput, SessionAlreadyActive, UnknownWindow
from core.outbox import WindowPayload
from core.services import Services
from tests.conftest import T0, FakeClock, audit_records, json_only
from tests.faults import FaultyOs, fail_with
from tests.units import committing

START = T0 + timedelta(hours=3)  # 2026-01-01T12:00Z
HOUR = timedelta(hours=1)


def window_events(services: Services) -> list[dict[str, Any]]:
    return [r for r in audit_records(services) if r["event"].startswith("GO_WINDOW_")]


def owed(services: Services, clock: FakeClock) -> list[tuple[str, str]]:
    """The window messages ready now, (window id, what), taken off the outbox as if sent."""
    found = []
    for item in services.outbox.ready(clock.now()):
        committing(services.uow).outbox.done(item)
        if item.kind == "window":
            assert isinstance(item.data, WindowPayload)
            assert item.session_id == f"window:{item.data.window.id}"
            assert item.channel == item.data.window.channel
            found.append((item.data.window.id, item.data.what))
    return found


def tick_at(services: Services, clock: FakeClock, moment: datetime) -> int:
    clock.advance(moment - clock.now())
    return services.windows.tick()


def plan(services: Services, starts_at: datetime = START, channel: str = "C1", **kw: Any) -> str:
    return services.windows.schedule("U1", channel, starts_at, HOUR, **kw).id


# planning ------------------------------------------------------------------------------------
def test_schedule_stores_the_window_audits_it_and_lists_it(services: Services) -> None:
    window = services.windows.schedule(
        "U1", "C1", START, HOUR, notes="  db upgrade\u200b ", link=" https://t.example/CHG-3 "
    )
    assert window.model_dump(exclude={"id"}) == {
        "kind": "window",
        "scope": "workspace",
        "channel": "C1",
        "starts_at_utc": START,
        "duration_seconds": 3600,
        "notes": "db upgrade",
        "link": "https://t.example/CHG-3",
        "scheduled_by": "U1",
        "status": "scheduled",
        "reminded": False,
        "prompted": False,
        "session_id": None,
        "revision": 0,
    }
    assert services.windows.find(window.id) == window
    assert services.windows.upcoming() == [window]
    [record] = window_events(services)
    assert (record["event"], record["actor"], record["channel"]) == (
        "GO_WINDOW_SCHEDULED",
        "U1",
        "C1",
    )
    assert record["data"] == {
        "window": window.id,
        "starts_at_utc": "2026-01-01T12:00:00.000000Z",
        "duration_seconds": 3600,
    }
    assert record["at_utc"] == "2026-01-01T09:00:00.000000Z"


def test_a_start_in_another_time_zone_is_kept_in_utc(services: Services) -> None:
    berlin = datetime(2026, 1, 1, 13, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # 12:00Z
    window = services.windows.find(plan(services, berlin))
    assert window.starts_at_utc == START and window.starts_at_utc.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("channel", "offset", "duration", "message"),
    [
        (None, HOUR, HOUR, "A GO window needs a channel to run in."),
        ("", HOUR, HOUR, "A GO window needs a channel to run in."),
        ("C1", timedelta(0), HOUR, "A GO window must start in the future."),
        ("C1", -timedelta(days=1), HOUR, "A GO window must start in the future."),
        (
            "C1",
            timedelta(days=366, seconds=1),
            HOUR,
            "A GO window can be planned at most a year ahead.",
        ),
        ("C1", HOUR, timedelta(0), "A GO window lasts more than 0 and at most 24h."),
        ("C1", HOUR, -HOUR, "A GO window lasts more than 0 and at most 24h."),
        (
            "C1",
            HOUR,
            timedelta(hours=24, seconds=1),
            "A GO window lasts more than 0 and at most 24h.",
        ),
    ],
)
def test_out_of_range_windows_are_refused_and_nothing_is_kept(
    services: Services,
    channel: str | None,
    offset: timedelta,
    duration: timedelta,
    message: str,
) -> None:
    with pytest.raises(InvalidInput) as raised:
        services.windows.schedule("U1", channel, T0 + offset, duration)
    assert raised.value.message == message
    assert services.windows.upcoming() == []
    assert window_events(services) == []


def test_the_edges_of_the_range_are_accepted(services: Services, clock: FakeClock) -> None:
    far = services.windows.schedule("U1", "C1", clock.now() + timedelta(days=366), HOUR)
    longest = services.windows.schedule("U1", "C1", START, timedelta(hours=24))
    assert (far.duration_seconds, longest.duration_seconds) == (3600, 86400)
    assert [w.id for w in services.windows.upcoming()] == [longest.id, far.id]


@pytest.mark.parametrize("channel", ["../../x", "C1\r\nX-Injected: 1", "#ops", "a" * 81, " C1"])
def test_a_channel_that_is_neither_an_id_nor_a_name_is_refused(
    services: Services, channel: str
) -> None:
    with pytest.raises(InvalidInput, match="a Slack channel ID"):
        services.windows.schedule("U1", channel, START, HOUR)
    assert services.windows.upcoming() == []


@pytest.mark.parametrize("channel", ["C0123ABC", "ops-team", "release_train"])
def test_a_channel_id_or_name_is_taken(services: Services, channel: str) -> None:
    assert services.windows.schedule("U1", channel, START, HOUR).channel == channel


def test_a_bad_link_or_overlong_notes_are_refused(services: Services) -> None:
    with pytest.raises(InvalidInput, match=r"one http:// or https:// URL"):
        services.windows.schedule("U1", "C1", START, HOUR, link="ftp://x")
    with pytest.raises(InvalidInput, match=r"Notes are 2001 characters long"):
        services.windows.schedule("U1", "C1", START, HOUR, notes="x" * 2001)
    assert services.windows.upcoming() == []


def test_an_overlap_is_refused_naming_the_other_window(services: Services) -> None:
    first = plan(services)
    with pytest.raises(InvalidInput) as raised:
        services.windows.schedule("U2", "C2", START + timedelta(minutes=30), HOUR)
    assert raised.value.message == (
        f"That overlaps the GO window {first} in C1 from 2026-01-01T12:00:00.000000Z to "
        "2026-01-01T13:00:00.000000Z (scheduled by U1): move or cancel one of them."
    )
    with pytest.raises(InvalidInput, match=f"overlaps the GO window {first}"):
        services.windows.schedule("U2", "C1", START - timedelta(minutes=30), HOUR)
    with pytest.raises(InvalidInput, match=f"overlaps the GO window {first}"):  # inside it
        services.windows.schedule("U2", "C1", START + timedelta(minutes=10), timedelta(minutes=5))
    assert [w.id for w in services.windows.upcoming()] == [first]
    assert [r["event"] for r in window_events(services)] == ["GO_WINDOW_SCHEDULED"]


def test_windows_that_only_touch_do_not_overlap(services: Services) -> None:
    first = plan(services)
    before = plan(services, START - HOUR)
    after = plan(services, START + HOUR)
    assert [w.id for w in services.windows.upcoming()] == [before, first, after]


def test_a_cancelled_window_does_not_block_its_time(services: Services) -> None:
    first = plan(services)
    services.windows.cancel("U1", first)
    second = plan(services)
    assert [w.id for w in services.windows.upcoming()] == [second]


def test_windows_of_different_scopes_may_overlap(
    make_services: Callable[..., Services], green: Path
) -> None:
    services = make_services(session_scope="channel")
    a = services.windows.find(plan(services, channel="C1"))
    b = services.windows.find(plan(services, channel="C2"))
    assert (a.scope, b.scope) == ("channel:C1", "channel:C2")
    assert [w.id for w in services.windows.upcoming("C1")] == [a.id]
    assert [w.id for w in services.windows.upcoming("C2")] == [b.id]
    assert {w.id for w in services.windows.upcoming()} == {a.id, b.id}
    with pytest.raises(InvalidInput, match=f"overlaps the GO window {a.id} in C1"):
        plan(services, START + timedelta(minutes=59), channel="C1")


def test_upcoming_leaves_out_ended_and_unscheduled_windows_between_keeps_them(
    services: Services, clock: FakeClock
) -> None:
    early, late = plan(services), plan(services, START + timedelta(days=1))
    cancelled = plan(services, START + timedelta(days=2))
    services.windows.cancel("U1", cancelled)
    assert [w.id for w in services.windows.upcoming()] == [early, late]
    assert [w.id for w in services.windows.between(START, START + timedelta(days=3))] == [
        early,
        late,
        cancelled,
    ]
    assert [w.id for w in services.windows.between(START, START + timedelta(days=1))] == [early]
    assert services.windows.between(START + timedelta(seconds=1), START + timedelta(days=1)) == []
    clock.advance(START + HOUR - clock.now())  # the first has ended
    assert [w.id for w in services.windows.upcoming()] == [late]


def test_an_unknown_window_is_a_typed_error(services: Services) -> None:
    for act in (
        lambda: services.windows.find("nope"),
        lambda: services.windows.move("U1", "nope", START, HOUR),
        lambda: services.windows.cancel("U1", "nope"),
        lambda: services.windows.start("U1", "nope"),
    ):
        with pytest.raises(UnknownWindow) as raised:
            act()
        assert raised.value.message == "There is no GO window 'nope'."


# moving and cancelling ----------------------------------------------------------------------
def test_move_changes_the_time_counts_the_revision_and_audits_the_old_start(
    services: Services,
) -> None:
    window = plan(services)
    moved = services.windows.move("U2", window, START + timedelta(days=1), 2 * HOUR)
    assert (moved.id, moved.starts_at_utc, moved.duration_seconds) == (
        window,
        START + timedelta(days=1),
        7200,
    )
    assert (moved.revision, moved.status, moved.scheduled_by) == (1, "scheduled", "U1")
    assert services.windows.find(window) == moved
    record = window_events(services)[-1]
    assert (record["event"], record["actor"]) == ("GO_WINDOW_MOVED", "U2")
    assert record["data"] == {
        "window": window,
        "starts_at_utc": "2026-01-02T12:00:00.000000Z",
        "duration_seconds": 7200,
        "from_utc": "2026-01-01T12:00:00.000000Z",
    }


def test_a_window_may_move_over_its_own_old_time_not_over_another(services: Services) -> None:
    window, other = plan(services), plan(services, START + 2 * HOUR)
    services.windows.move("U1", window, START + timedelta(minutes=30), HOUR)
    with pytest.raises(InvalidInput) as raised:
        services.windows.move("U1", window, START + timedelta(minutes=90), HOUR)
    assert raised.value.message.startswith(f"That overlaps the GO window {other} in C1 from ")
    kept = services.windows.find(window)
    assert (kept.starts_at_utc, kept.revision) == (START + timedelta(minutes=30), 1)
    with pytest.raises(InvalidInput, match="must start in the future"):
        services.windows.move("U1", window, T0 - HOUR, HOUR)
    assert services.windows.find(window) == kept


def test_cancel_marks_it_cancelled_and_it_cannot_be_changed_again(services: Services) -> None:
    window = plan(services)
    cancelled = services.windows.cancel("U2", window)
    assert (cancelled.status, cancelled.revision) == ("cancelled", 1)
    assert services.windows.find(window) == cancelled
    assert services.windows.upcoming() == []
    assert [(r["event"], r["actor"]) for r in window_events(services)] == [
        ("GO_WINDOW_SCHEDULED", "U1"),
        ("GO_WINDOW_CANCELLED", "U2"),
    ]
    for act in (
        lambda: services.windows.cancel("U1", window),
        lambda: services.windows.move("U1", window, START, HOUR),
        lambda: services.windows.start("U1", window),
    ):
        with pytest.raises(InvalidInput) as raised:
            act()
        assert raised.value.message == "That GO window is cancelled already."
    assert len(window_events(services)) == 2


# what a window owes -----------------------------------------------------------------------------
def test_reminder_at_the_lead_prompt_at_the_start_missed_at_the_end_each_once(
    services: Services, clock: FakeClock
) -> None:
    window = plan(services)
    assert tick_at(services, clock, START - timedelta(minutes=31)) == 0
    assert owed(services, clock) == []
    assert tick_at(services, clock, START - timedelta(minutes=30)) == 1
    assert owed(services, clock) == [(window, "reminder")]
    assert services.windows.find(window).reminded
    assert tick_at(services, clock, START - timedelta(minutes=1)) == 0
    assert tick_at(services, clock, START) == 1
    assert owed(services, clock) == [(window, "prompt")]
    assert services.windows.tick() == 0
    assert tick_at(services, clock, START + HOUR - timedelta(seconds=1)) == 0
    assert tick_at(services, clock, START + HOUR) == 1
    assert owed(services, clock) == [(window, "missed")]
    assert services.windows.find(window).status == "missed"
    assert services.windows.tick() == 0
    assert [r["event"] for r in window_events(services)] == [
        "GO_WINDOW_SCHEDULED",
        "GO_WINDOW_MISSED",
    ]
    assert window_events(services)[-1]["actor"] == "gobot"


def test_two_processes_ticking_owe_each_message_once(
    services: Services, make_services: Callable[..., Services], clock: FakeClock
) -> None:
    other = make_services()  # a second process on the same store
    window = plan(services)
    for moment, what in ((START - timedelta(minutes=30), "reminder"), (START, "prompt")):
        clock.advance(moment - clock.now())
        assert [other.windows.tick(), services.windows.tick(), other.windows.tick()] == [1, 0, 0]
        assert owed(services, clock) == [(window, what)]


@json_only
def test_a_window_that_cannot_be_claimed_does_not_hold_up_the_others(
    services: Services,
    clock: FakeClock,
    faulty_os: Callable[[Any], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second = plan(services), plan(services, START + HOUR)
    clock.advance(START + timedelta(minutes=40) - clock.now())  # a prompt and a reminder due
    faulty_os(FaultyOs(1, fail_with(errno.ENOSPC)))  # the disk is full for the first write
    assert services.windows.tick() == 1
    faulty_os(os)
    assert [r.getMessage() for r in caplog.records if r.name == "gobot.windows"] == [
        f"window {first} failed; the others go on"
    ]
    assert owed(services, clock) == [(second, "reminder")]
    assert services.windows.tick() == 1  # the first again, now that it can be kept
    assert owed(services, clock) == [(first, "prompt")]


def test_the_lead_follows_the_setting(
    make_services: Callable[..., Services], green: Path, clock: FakeClock
) -> None:
    services = make_services(window_lead="2h")
    window = plan(services)
    assert tick_at(services, clock, START - 2 * HOUR - timedelta(seconds=1)) == 0
    assert tick_at(services, clock, START - 2 * HOUR) == 1
    assert owed(services, clock) == [(window, "reminder")]


def test_down_through_the_lead_owes_only_the_prompt(services: Services, clock: FakeClock) -> None:
    window = plan(services)
    assert tick_at(services, clock, START + timedelta(minutes=10)) == 1
    assert owed(services, clock) == [(window, "prompt")]
    assert services.windows.tick() == 0


def test_down_through_the_whole_window_owes_only_the_missed_note(
    services: Services, clock: FakeClock
) -> None:
    window = plan(services)
    assert tick_at(services, clock, START + timedelta(days=2)) == 1
    assert owed(services, clock) == [(window, "missed")]
    assert services.windows.tick() == 0


def test_each_window_owes_its_own_messages(services: Services, clock: FakeClock) -> None:
    a = plan(services)
    b = plan(services, START + timedelta(minutes=70))
    assert tick_at(services, clock, START + timedelta(minutes=45)) == 2
    assert sorted(owed(services, clock)) == sorted([(a, "prompt"), (b, "reminder")])


def test_a_moved_window_is_reminded_again_at_its_new_time_not_the_old(
    services: Services, clock: FakeClock
) -> None:
    window = plan(services)
    assert tick_at(services, clock, START - timedelta(minutes=20)) == 1  # reminder owed, unsent
    moved = services.windows.move("U1", window, START + timedelta(days=1), HOUR)
    assert (moved.reminded, moved.prompted) == (False, False)
    assert owed(services, clock) == []  # the reminder about the old time was dropped
    assert tick_at(services, clock, START + 2 * HOUR) == 0
    assert tick_at(services, clock, START + timedelta(days=1, minutes=-30)) == 1
    assert owed(services, clock) == [(window, "reminder")]


def test_a_cancelled_window_owes_nothing_more(services: Services, clock: FakeClock) -> None:
    window = plan(services)
    assert tick_at(services, clock, START - timedelta(minutes=20)) == 1
    services.windows.cancel("U1", window)
    assert owed(services, clock) == []
    assert tick_at(services, clock, START + timedelta(days=1)) == 0
    assert services.windows.find(window).status == "cancelled"


# starting --------------------------------------------------------------------------------------
def test_start_now_carries_notes_link_and_duration_and_marks_the_window(
    services: Services, clock: FakeClock
) -> None:
    window = plan(services, notes="db upgrade", link="https://t.example/CHG-3")
    clock.advance(START - timedelta(minutes=5) - clock.now())
    session = services.windows.start("U2", window).session
    assert (session.notes, session.link, session.channel, session.started_by) == (
        "db upgrade",
        "https://t.example/CHG-3",
        "C1",
        "U2",
    )
    assert session.planned_end_utc == clock.now() + HOUR
    started = services.windows.find(window)
    assert (started.status, started.session_id) == ("started", session.id)
    record = window_events(services)[-1]
    assert (record["event"], record["actor"]) == ("GO_WINDOW_STARTED", "U2")
    assert record["data"]["session"] == session.id
    assert services.windows.upcoming() == []
    assert tick_at(services, clock, START + timedelta(days=1)) == 0  # neither prompt nor missed
    assert owed(services, clock) == []


def test_start_now_refused_by_an_active_session_leaves_the_window_scheduled(
    services: Services, clock: FakeClock
) -> None:
    window = plan(services)
    services.sessions.start("U9", "C2", "something else")
    with pytest.raises(SessionAlreadyActive):
        services.windows.start("U2", window)
    assert services.windows.find(window).status == "scheduled"
    assert [r["event"] for r in window_events(services)] == ["GO_WINDOW_SCHEDULED"]


def test_a_session_started_by_hand_in_the_window_counts_as_its_start(
    services: Services, clock: FakeClock
) -> None:
    window = plan(services)
    clock.advance(START - timedelta(minutes=10) - clock.now())
    session = services.sessions.start("U3", "C1", "by hand").session
    assert tick_at(services, clock, START) == 0
    assert owed(services, clock) == []
    started = services.windows.find(window)
    assert (started.status, started.session_id) == ("started", session.id)
    record = window_events(services)[-1]
    assert (record["event"], record["actor"], record["data"]["session"]) == (
        "GO_WINDOW_STARTED",
        "U3",
        session.id,
    )


def test_a_session_started_before_the_lead_does_not_count(
    services: Services, clock: FakeClock
) -> None:
    window = plan(services)
    services.sessions.start("U3", "C1", "earlier work")  # at 09:00, before 11:30
    assert tick_at(services, clock, START) == 1
    assert owed(services, clock) == [(window, "prompt")]
    assert services.windows.find(window).status == "scheduled"


def test_starting_one_window_does_not_start_the_next(services: Services, clock: FakeClock) -> None:
    first = plan(services)
    second = plan(services, START + HOUR)  # right after it: its reminder is due at 12:30
    clock.advance(START + timedelta(minutes=40) - clock.now())  # the first starts late
    session = services.windows.start("U1", first).session
    assert services.windows.find(first).session_id == session.id
    services.windows.tick()
    assert services.windows.find(second).status == "scheduled"
    assert owed(services, clock) == [(second, "reminder")]


def test_a_session_in_another_channel_is_not_the_windows_start(
    services: Services, clock: FakeClock
) -> None:
    window = plan(services, channel="C1")
    clock.advance(START - timedelta(minutes=10) - clock.now())
    services.sessions.start("U3", "C2", "another change")
    services.windows.tick()
    assert services.windows.find(window).status == "scheduled"
