from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.clock import parse_utc
from core.errors import InvalidInput, NoActiveSession
from core.outbox import ReminderPayload
from core.services import Services
from tests.conftest import FakeClock, audit_records, json_only, write_json
from tests.core.fakes import FakeTransport

POLICY = {"remind_after": "60m", "remind_every": "30m", "escalate_after": "2h", "watch_every": "5m"}


@pytest.fixture
def wired_policy(wired: Callable[..., Services]) -> Callable[..., Services]:
    def make(**overrides: Any) -> Services:
        return wired(**{**POLICY, **overrides})

    return make


def tick(services: Services) -> None:
    services.reminders.tick()
    assert services.delivery is not None
    services.delivery.deliver_ready()


def reminders(transport: FakeTransport) -> int:
    return transport.kinds().count("reminder")


def audit(services: Services, event: str) -> list[dict[str, Any]]:
    return [record for record in audit_records(services) if record["event"] == event]


def test_first_reminder_after_remind_after_then_every_remind_every(
    wired_policy: Callable[..., Services],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    services = wired_policy()
    services.sessions.start("U1", "C1", "")
    clock.advance(timedelta(minutes=59))
    tick(services)
    assert reminders(transport) == 0
    clock.advance(timedelta(minutes=1))
    tick(services)
    tick(services)
    assert reminders(transport) == 1
    clock.advance(timedelta(minutes=29))
    tick(services)
    assert reminders(transport) == 1
    clock.advance(timedelta(minutes=1))
    tick(services)
    assert reminders(transport) == 2
    thread = transport.sent[0][2] or transport.sent[-1][2]
    assert thread is not None and transport.sent[-1][2] == transport.sent[1][2]
    sent = audit(services, "GO_REMINDER_SENT")
    assert [r["data"]["number"] for r in sent] == [1, 2]


def test_escalation_after_escalate_after(
    wired_policy: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    services = wired_policy()
    services.sessions.start("U1", "C1", "")
    flags = []
    for _ in range(5):
        clock.advance(timedelta(minutes=30))
        services.reminders.tick()
        ready = services.outbox.ready(parse_utc("9999-12-31T00:00:00Z"))
        flags += [i.data.escalate for i in ready if isinstance(i.data, ReminderPayload)]
        assert services.delivery is not None
        services.delivery.deliver_ready()
    # reminders at 60, 90, 120, 150 minutes: escalated from 2h on
    assert flags == [False, False, True, True]


def test_snooze_moves_the_next_reminder_and_is_audited(
    wired_policy: Callable[..., Services],
    transport: FakeTransport,
    clock: FakeClock,
) -> None:
    services = wired_policy()
    session = services.sessions.start("U1", "C1", "").session
    clock.advance(timedelta(minutes=50))
    snoozed = services.reminders.snooze("workspace", str(session.id), "U2", timedelta(hours=1))
    assert snoozed.reminder.next_due_utc == parse_utc("2026-01-01T10:50:00.000000Z")
    clock.advance(timedelta(minutes=30))  # past the original due time
    tick(services)
    assert reminders(transport) == 0
    clock.advance(timedelta(minutes=30))
    tick(services)
    assert reminders(transport) == 1
    [record] = audit(services, "GO_REMINDER_SNOOZED")
    assert record["actor"] == "U2" and record["data"]["seconds"] == 3600
    with pytest.raises(InvalidInput):
        services.reminders.snooze("workspace", str(session.id), "U2", timedelta(hours=25))
    with pytest.raises(NoActiveSession):
        services.reminders.snooze("workspace", "someone-else", "U2", timedelta(hours=1))


def test_a_snooze_never_brings_a_reminder_forward(
    wired_policy: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    services = wired_policy()
    session = services.sessions.start("U1", "C1", "").session
    due = session.reminder.next_due_utc  # 60m after the start
    snoozed = services.reminders.snooze("workspace", str(session.id), "U2", timedelta(minutes=30))
    assert snoozed.reminder.next_due_utc == due
    [record] = audit(services, "GO_REMINDER_SNOOZED")
    assert record["data"]["until_utc"] == "2026-01-01T10:00:00.000000Z"
    clock.advance(timedelta(minutes=30))
    tick(services)
    assert reminders(transport) == 0


def test_a_reminder_states_band_and_health_as_read_for_it(
    wired_policy: Callable[..., Services], transport: FakeTransport, clock: FakeClock, green: Path
) -> None:
    services = wired_policy(watch_every="24h")  # the health watch has not looked since the start
    services.sessions.start("U1", "C1", "")
    write_json(green / "health_status.json", {"status": "red", "reasons": ["db down"]})
    write_json(green / "cone_state.json", {"band": "D", "reason": "budget gone"})
    clock.advance(timedelta(minutes=60))
    services.reminders.tick()
    [owed] = [
        item.data
        for item in services.outbox.ready(parse_utc("9999-12-31T00:00:00Z"))
        if isinstance(item.data, ReminderPayload)
    ]
    assert (owed.band, owed.status) == ("D", "red")


def test_an_end_racing_a_tick_stops_the_claimed_reminder(
    wired_policy: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    services = wired_policy()
    services.sessions.start("U1", "C1", "")
    clock.advance(timedelta(minutes=60))
    services.reminders.tick()  # the slot is claimed, its message owed...
    services.sessions.end("U1", "C1", "")  # ... and the session ends before it is sent
    for _ in range(3):
        clock.advance(timedelta(seconds=2))
        tick(services)
    assert reminders(transport) == 0
    assert transport.kinds() == ["snapshot", "playbook", "ended", "playbook"]
    clock.advance(timedelta(hours=5))
    tick(services)
    assert reminders(transport) == 0


def test_missed_slots_are_coalesced_into_one_after_a_restart(
    wired_policy: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    wired_policy().sessions.start("U1", "C1", "")
    clock.advance(timedelta(hours=5))  # the bot was down for many slots
    restarted = wired_policy()
    tick(restarted)
    tick(restarted)
    assert reminders(transport) == 1
    assert restarted.sessions.get().reminder.next_due_utc == parse_utc(
        "2026-01-01T14:30:00.000000Z"
    )


def test_two_processes_ticking_claim_each_slot_once(
    wired_policy: Callable[..., Services], transport: FakeTransport, clock: FakeClock
) -> None:
    one, two = wired_policy(), wired_policy()
    one.sessions.start("U1", "C1", "")
    for _ in range(4):
        clock.advance(timedelta(minutes=30))
        one.reminders.tick()
        two.reminders.tick()
        assert one.delivery is not None and two.delivery is not None
        one.delivery.deliver_ready()
        two.delivery.deliver_ready()
    assert reminders(transport) == 3  # at 60, 90 and 120 minutes


@json_only
def test_one_failing_session_does_not_stop_the_others(
    wired_policy: Callable[..., Services],
    transport: FakeTransport,
    clock: FakeClock,
    green: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = wired_policy(session_scope="channel")
    for channel in ("C1", "C2", "C3"):
        services.sessions.start("U1", channel, "")
    (green / "sessions" / "channel-C2.json").write_text("{broken")
    clock.advance(timedelta(minutes=60))
    report = services.reminders.tick()
    assert report.reminders == 2
    assert any("channel:C2" in record.getMessage() for record in caplog.records)
    assert services.delivery is not None
    services.delivery.deliver_ready()
    assert reminders(transport) == 2


def test_health_watch_posts_once_per_change(
    wired_policy: Callable[..., Services],
    transport: FakeTransport,
    clock: FakeClock,
    green: Path,
) -> None:
    services = wired_policy()
    services.sessions.start("U1", "C1", "")
    clock.advance(timedelta(minutes=5))
    tick(services)
    assert transport.kinds().count("drift") == 0
    write_json(green / "health_status.json", {"status": "red", "reasons": ["db down"]})
    clock.advance(timedelta(minutes=4))
    tick(services)
    assert transport.kinds().count("drift") == 0  # not re-read before watch_every
    clock.advance(timedelta(minutes=1))
    tick(services)
    assert transport.kinds().count("drift") == 1
    for _ in range(3):
        clock.advance(timedelta(minutes=5))
        tick(services)
    assert transport.kinds().count("drift") == 1  # no repeat while nothing changes
    [drift] = audit(services, "GO_HEALTH_DRIFT")
    assert drift["data"]["from_status"] == "green" and drift["data"]["to_status"] == "red"
    assert drift["data"]["reasons"] == ["db down"]


@pytest.mark.parametrize(
    ("planned", "due"),
    [
        (timedelta(minutes=30), [20, 30, 60, 90]),  # 10m before, at the end, then every 30m
        (timedelta(minutes=5), [5, 35]),  # the end comes before the 10m warning could
        (timedelta(hours=3), [60, 90, 120, 150, 170, 180, 210]),  # the usual ones too
    ],
)
def test_a_planned_end_sets_when_reminders_are_due(
    wired_policy: Callable[..., Services],
    transport: FakeTransport,
    clock: FakeClock,
    planned: timedelta,
    due: list[int],
) -> None:
    services = wired_policy()
    services.sessions.start("U1", "C1", "", planned=planned)
    sent_at: list[int] = []
    for minute in range(1, due[-1] + 1):
        clock.advance(timedelta(minutes=1))
        before = reminders(transport)
        tick(services)
        if reminders(transport) > before:
            sent_at.append(minute)
    assert sent_at == due
