from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import format_utc, parse_utc
from core.errors import InvalidInput, NoActiveSession, SessionAlreadyActive
from core.models import BOOT_DEFAULT_REASON
from core.services import Services
from tests.conftest import FakeClock, audit_records, write_json

ORIGINAL_FIELDS = (
    "active",
    "started_at_utc",
    "ended_at_utc",
    "cone_band",
    "status",
    "notes",
    "snapshot",
)


def test_no_session_yet_is_the_original_all_null_inactive_session(services: Services) -> None:
    session = services.sessions.get().model_dump(mode="json")
    assert {key: session[key] for key in ORIGINAL_FIELDS} == {
        "active": False,
        "started_at_utc": None,
        "ended_at_utc": None,
        "cone_band": None,
        "status": None,
        "notes": None,
        "snapshot": None,
    }


def test_start_captures_snapshot_actor_channel_and_time(services: Services, data_dir: Path) -> None:
    session = services.sessions.start("U1", "C1", "  deploy v2  ").session
    assert session.active
    assert session.started_at_utc == parse_utc("2026-01-01T09:00:00.000000Z")
    assert (session.cone_band, session.status) == ("A", "green")
    assert session.notes == "deploy v2"
    assert session.started_by == "U1" and session.channel == "C1"
    assert session.snapshot is not None
    assert session.snapshot.cone.metrics == {"error_rate": 0.01}
    assert services.sessions.get() == session


def test_start_while_active_names_who_where_and_when(services: Services) -> None:
    first = services.sessions.start("U1", "C1", "").session
    with pytest.raises(SessionAlreadyActive) as raised:
        services.sessions.start("U2", "C2", "")
    assert raised.value.session.id == first.id
    assert "U1" in raised.value.message and "C1" in raised.value.message
    assert (
        first.started_at_utc is not None
        and format_utc(first.started_at_utc) in raised.value.message
    )


def test_end_keeps_start_snapshot_and_records_end(
    services: Services, clock: FakeClock, data_dir: Path
) -> None:
    started = services.sessions.start("U1", "C1", "go").session
    write_json(data_dir / "health_status.json", {"status": "red", "reasons": ["db down"]})
    clock.advance(timedelta(minutes=95, seconds=30))
    ended = services.sessions.end("U2", "C1", "rolled back").session
    assert not ended.active
    assert ended.snapshot == started.snapshot
    assert (ended.cone_band, ended.status) == ("A", "green")
    assert ended.end_snapshot is not None and ended.end_snapshot.status.status == "red"
    assert ended.ended_by == "U2" and ended.end_notes == "rolled back" and ended.notes == "go"
    assert ended.ended_at_utc == parse_utc("2026-01-01T10:35:30.000000Z")
    assert ended.duration_seconds == 5730.0
    assert services.sessions.get() == ended
    assert services.sessions.history(5) == [ended]


def test_end_with_none_active_is_a_typed_error(services: Services) -> None:
    with pytest.raises(NoActiveSession, match="no active GO session"):
        services.sessions.end("U1", "C1", "")
    services.sessions.start("U1", "C1", "")
    services.sessions.end("U1", "C1", "")
    with pytest.raises(NoActiveSession):
        services.sessions.end("U1", "C1", "")


def test_audit_records_start_and_end_with_actor_channel_session(
    services: Services, data_dir: Path
) -> None:
    session = services.sessions.start("U1", "C1", "n1").session
    services.sessions.end("U2", "C1", "n2")
    events = audit_records(services)
    assert [e["event"] for e in events] == ["GO_SESSION_START", "GO_SESSION_END"]
    assert [e["actor"] for e in events] == ["U1", "U2"]
    assert {e["session_id"] for e in events} == {session.id}
    assert {e["channel"] for e in events} == {"C1"}
    assert events[0]["at_utc"] == "2026-01-01T09:00:00.000000Z"
    assert services.audit.verify().ok


def test_refused_operations_change_nothing(services: Services, data_dir: Path) -> None:
    services.sessions.start("U1", "C1", "")
    before = {p.name: p.read_bytes() for p in data_dir.iterdir() if p.is_file()}
    with pytest.raises(SessionAlreadyActive):
        services.sessions.start("U2", "C1", "")
    with pytest.raises(InvalidInput):
        services.sessions.end("U1", "C1", "x" * 2001)
    after = {p.name: p.read_bytes() for p in data_dir.iterdir() if p.is_file()}
    assert after == before


def test_channel_scope_allows_one_active_session_per_channel(
    make_services: Callable[..., Services], green: Path
) -> None:
    services = make_services(session_scope="channel")
    a = services.sessions.start("U1", "C1", "").session
    b = services.sessions.start("U2", "C2", "").session
    assert a.scope == "channel:C1" and b.scope == "channel:C2"
    with pytest.raises(SessionAlreadyActive):
        services.sessions.start("U3", "C1", "")
    assert {s.id for s in services.sessions.active()} == {a.id, b.id}
    services.sessions.end("U1", "C1", "")
    assert services.sessions.get("C1").active is False
    assert services.sessions.get("C2").active is True
    with pytest.raises(NoActiveSession, match="in this channel"):
        services.sessions.end("U1", "C1", "")
    with pytest.raises(InvalidInput, match="per channel"):
        services.sessions.start("U1", None, "")
    assert [s.id for s in services.sessions.history(10, "C1")] == [a.id]
    assert services.sessions.history(10, "C2") == []


def test_workspace_scope_is_one_session_across_channels(services: Services) -> None:
    services.sessions.start("U1", "C1", "")
    with pytest.raises(SessionAlreadyActive):
        services.sessions.start("U2", "C2", "")
    ended = services.sessions.end("U2", "C2", "").session
    assert ended.channel == "C1" and ended.ended_by == "U2"


def test_history_is_newest_first_and_bounded(services: Services, clock: FakeClock) -> None:
    ids = []
    for n in range(5):
        ids.append(services.sessions.start("U1", "C1", f"s{n}").session.id)
        clock.advance(timedelta(minutes=1))
        services.sessions.end("U1", "C1", "")
    assert [s.id for s in services.sessions.history(3)] == ids[::-1][:3]
    assert [s.id for s in services.sessions.history(100)] == ids[::-1]
    for bad in (0, 101):
        with pytest.raises(InvalidInput):
            services.sessions.history(bad)


def test_missing_cone_file_snapshots_the_boot_default(
    make_services: Callable[..., Services], data_dir: Path
) -> None:
    write_json(data_dir / "health_status.json", {"status": "yellow", "reasons": ["slow"]})
    session = make_services().sessions.start("U1", "C1", "").session
    assert session.cone_band == "B"
    assert session.snapshot is not None
    assert session.snapshot.cone.reason == BOOT_DEFAULT_REASON


def test_session_survives_a_restart(make_services: Callable[..., Services], green: Path) -> None:
    started = make_services().sessions.start("U1", "C1", "persist me").session
    assert make_services().sessions.get() == started
