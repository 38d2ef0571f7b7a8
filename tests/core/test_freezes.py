"""Change freezes in core: planned, moved and cancelled as windows are (audited `GO_FREEZE_*`),
one overlap rule for windows and freezes, no message owed, and no session started while one
holds unless an admin's reason overrides it (`GO_FREEZE_OVERRIDDEN`); on both stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import FreezeInForce, InvalidInput
from core.gate_models import GateRequest
from core.services import Services
from core.windows import WindowOverlap, freeze_in_force
from tests.conftest import T0, FakeClock, audit_records
from tests.core.test_windows import owed, tick_at

START = T0 + timedelta(hours=3)  # 2026-01-01T12:00Z
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def freeze(
    services: Services,
    starts_at: Any = START,
    duration: timedelta = DAY,
    channel: str = "C1",
    reason: str = "year-end freeze",
) -> str:
    return services.windows.schedule_freeze("U1", channel, starts_at, duration, reason).id


def events(services: Services) -> list[dict[str, Any]]:
    return [
        r
        for r in audit_records(services)
        if r["event"].startswith(("GO_FREEZE_", "GO_WINDOW_", "GO_SESSION_"))
    ]


def test_a_freeze_is_stored_as_a_freeze_audited_and_listed(services: Services) -> None:
    planned = services.windows.schedule_freeze(
        "U1", "C1", START, timedelta(days=31), "  year-end\u200b freeze <!here> "
    )
    assert (planned.kind, planned.notes, planned.status) == (
        "freeze",
        "year-end freeze <!here>",
        "scheduled",
    )
    assert planned.duration_seconds == 31 * 86400
    assert services.windows.upcoming() == [planned]
    [record] = events(services)
    assert (record["event"], record["actor"], record["channel"]) == (
        "GO_FREEZE_SCHEDULED",
        "U1",
        "C1",
    )
    assert record["data"] == {
        "freeze": planned.id,
        "starts_at_utc": "2026-01-01T12:00:00.000000Z",
        "duration_seconds": 31 * 86400,
        "reason": "year-end freeze <!here>",
    }


@pytest.mark.parametrize(
    ("offset", "duration", "reason", "message"),
    [
        (HOUR, DAY, "", "A change freeze needs a reason: say why changes are held."),
        (HOUR, DAY, " \u200b ", "A change freeze needs a reason: say why changes are held."),
        (timedelta(0), DAY, "x", "A change freeze must start in the future."),
        (
            HOUR,
            timedelta(days=31, seconds=1),
            "x",
            "A change freeze lasts more than 0 and at most 31 days.",
        ),
        (HOUR, timedelta(0), "x", "A change freeze lasts more than 0 and at most 31 days."),
        (
            timedelta(days=367),
            DAY,
            "x",
            "A change freeze can be planned at most a year ahead.",
        ),
    ],
)
def test_a_freeze_without_a_reason_or_out_of_range_is_refused(
    services: Services, offset: timedelta, duration: timedelta, reason: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        services.windows.schedule_freeze("U1", "C1", T0 + offset, duration, reason)
    assert raised.value.message == message
    assert services.windows.upcoming() == [] and events(services) == []


def test_a_window_inside_a_freeze_is_refused_naming_the_freeze(services: Services) -> None:
    frozen = freeze(services)
    with pytest.raises(WindowOverlap) as raised:
        services.windows.schedule("U2", "C2", START + HOUR, HOUR)
    assert raised.value.other.id == frozen
    assert raised.value.message == (
        f"That overlaps the change freeze {frozen} in C1 from 2026-01-01T12:00:00.000000Z to "
        "2026-01-02T12:00:00.000000Z (scheduled by U1): move or cancel one of them."
    )
    window = services.windows.schedule("U2", "C1", START - HOUR, HOUR).id  # touching is fine
    with pytest.raises(WindowOverlap, match=f"the change freeze {frozen}"):
        services.windows.move("U2", window, START - timedelta(minutes=30), HOUR)
    assert [r["event"] for r in events(services)] == ["GO_FREEZE_SCHEDULED", "GO_WINDOW_SCHEDULED"]


def test_a_freeze_over_a_window_or_another_freeze_is_refused_naming_it(
    services: Services,
) -> None:
    window = services.windows.schedule("U2", "C1", START + DAY, HOUR).id
    with pytest.raises(WindowOverlap, match=f"overlaps the GO window {window} in C1"):
        freeze(services, START, 2 * DAY)
    frozen = freeze(services)
    with pytest.raises(WindowOverlap, match=f"overlaps the change freeze {frozen}"):
        freeze(services, START + HOUR, HOUR)
    with pytest.raises(WindowOverlap, match=f"overlaps the GO window {window}"):
        services.windows.move("U1", frozen, START + HOUR, DAY)
    assert {w.id for w in services.windows.upcoming()} == {window, frozen}


def test_freezes_of_other_scopes_do_not_clash(
    make_services: Callable[..., Services], green: Path, clock: FakeClock
) -> None:
    services = make_services(session_scope="channel")
    freeze(services, channel="C1")
    services.windows.schedule("U2", "C2", START + HOUR, HOUR)
    clock.advance(START + HOUR - clock.now())
    with pytest.raises(FreezeInForce):
        services.sessions.start("U2", "C1")
    assert services.sessions.start("U2", "C2").session.freeze_override is None


def test_move_and_cancel_a_freeze_are_audited_as_freeze_events(services: Services) -> None:
    frozen = freeze(services)
    moved = services.windows.move("U2", frozen, START + DAY, 2 * DAY)
    assert (moved.starts_at_utc, moved.duration_seconds, moved.revision) == (
        START + DAY,
        2 * 86400,
        1,
    )
    services.windows.cancel("U2", frozen)
    assert services.windows.find(frozen).status == "cancelled"
    with pytest.raises(InvalidInput, match="That change freeze is cancelled already"):
        services.windows.cancel("U2", frozen)
    records = events(services)
    assert [r["event"] for r in records] == [
        "GO_FREEZE_SCHEDULED",
        "GO_FREEZE_MOVED",
        "GO_FREEZE_CANCELLED",
    ]
    assert records[1]["data"]["from_utc"] == "2026-01-01T12:00:00.000000Z"
    assert records[2]["data"]["freeze"] == frozen


def test_a_freeze_owes_no_message_and_stays_scheduled(services: Services, clock: FakeClock) -> None:
    frozen = freeze(services, duration=HOUR)
    for moment in (START - timedelta(minutes=30), START, START + 2 * HOUR):
        assert tick_at(services, clock, moment) == 0
        assert owed(services, clock) == []
    assert services.windows.find(frozen).status == "scheduled"
    assert services.windows.upcoming() == []  # over, not listed
    with pytest.raises(InvalidInput, match="That is a change freeze"):
        services.windows.start("U1", frozen)


def test_no_session_starts_while_a_freeze_holds(services: Services, clock: FakeClock) -> None:
    frozen = freeze(services, duration=HOUR)
    clock.advance(START - clock.now())  # the freeze's first moment
    assert services.sessions.freeze("C1") == services.windows.find(frozen)
    with pytest.raises(FreezeInForce) as raised:
        services.sessions.start("U2", "C9", "deploy")
    assert raised.value.freeze.id == frozen
    assert raised.value.message == (
        "A change freeze is in force until 2026-01-01T13:00:00.000000Z: year-end freeze "
        f"(freeze {frozen}). A gobot admin may start anyway, saying why: "
        "/go-start --override <reason>."
    )
    assert not services.sessions.get("C9").active
    assert [r["event"] for r in events(services)] == ["GO_FREEZE_SCHEDULED"]
    clock.advance(HOUR)  # over
    assert services.sessions.freeze("C1") is None
    assert services.sessions.start("U2", "C9").session.active


def test_a_cancelled_freeze_no_longer_holds(services: Services, clock: FakeClock) -> None:
    frozen = freeze(services)
    clock.advance(START + HOUR - clock.now())
    services.windows.cancel("U1", frozen)
    assert services.sessions.start("U2", "C1").session.active


def test_an_override_starts_the_session_recorded_and_audited_with_it(
    services: Services, clock: FakeClock
) -> None:
    frozen = freeze(services)
    clock.advance(START + HOUR - clock.now())
    with pytest.raises(InvalidInput, match="needs a reason"):
        services.sessions.start("UADMIN", "C1", override=" ")
    session = services.sessions.start(
        "UADMIN", "C1", "hotfix", override="payments down <!channel>"
    ).session
    override = session.freeze_override
    assert override is not None
    assert (override.freeze_id, override.by, override.reason, override.at_utc) == (
        frozen,
        "UADMIN",
        "payments down <!channel>",
        START + HOUR,
    )
    assert services.sessions.get("C1").freeze_override == override  # as stored
    start, overridden = events(services)[1:]
    assert (start["event"], overridden["event"]) == ("GO_SESSION_START", "GO_FREEZE_OVERRIDDEN")
    assert overridden["session_id"] == start["session_id"] == session.id
    assert (overridden["actor"], overridden["data"]) == (
        "UADMIN",
        {"freeze": frozen, "reason": "payments down <!channel>"},
    )
    decision = services.gate.evaluate(GateRequest(channel="C1"))  # the gate lets it through
    assert (decision.state, decision.freeze_id) == ("allowed", frozen)


def test_an_override_without_a_freeze_records_nothing(services: Services) -> None:
    session = services.sessions.start("UADMIN", "C1", override="just in case").session
    assert session.active and session.freeze_override is None
    assert "GO_FREEZE_OVERRIDDEN" not in [r["event"] for r in events(services)]


def test_a_windows_start_now_is_refused_while_a_freeze_holds(
    services: Services, clock: FakeClock
) -> None:
    window = services.windows.schedule("U1", "C1", START + DAY, HOUR).id
    frozen = freeze(services, START, HOUR)
    clock.advance(START - clock.now())
    with pytest.raises(FreezeInForce, match=f"freeze {frozen}"):
        services.windows.start("U1", window)
    assert services.windows.find(window).status == "scheduled"
    assert not services.sessions.get("C1").active


def test_freeze_in_force_picks_the_one_that_ends_last(services: Services) -> None:
    short = services.windows.find(freeze(services, duration=HOUR))
    longer = short.model_copy(update={"id": "other", "duration_seconds": 7200})
    window = longer.model_copy(update={"id": "w", "kind": "window", "duration_seconds": 9000})
    assert freeze_in_force([short, longer, window], "workspace", START) == longer
    assert freeze_in_force([short], "channel:C1", START) is None
    assert freeze_in_force([short], "workspace", START + HOUR) is None
