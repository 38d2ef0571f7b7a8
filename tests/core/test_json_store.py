from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import parse_utc
from core.errors import StoreCorrupted
from core.ids import time_ordered_id
from core.models import GoSession
from core.services import Services
from core.stores.json import JsonUnitOfWork
from core.stores.json.sessions import JsonSessionStore
from tests.conftest import json_only
from tests.units import committing


def ended(n: int) -> GoSession:
    return GoSession(
        active=False,
        id=f"id{n}",
        scope="workspace",
        started_at_utc="2026-01-01T09:00:00.000000Z",
        ended_at_utc="2026-01-01T10:00:00.000000Z",
    )


@json_only
def test_torn_history_line_is_skipped_and_repaired(services: Services, data_dir: Path) -> None:
    services.sessions.start("U1", "C1", "")
    first = services.sessions.end("U1", "C1", "").session
    with open(data_dir / "go_history.jsonl", "a") as handle:
        handle.write('{"active": false, "id": "tor')
    assert [s.id for s in services.sessions.history(10)] == [first.id]
    services.sessions.start("U1", "C1", "")
    second = services.sessions.end("U1", "C1", "").session
    assert [s.id for s in services.sessions.history(10)] == [second.id, first.id]
    lines = (data_dir / "go_history.jsonl").read_text().split("\n")
    assert lines[-1] == "" and all(json.loads(line) for line in lines[:-1])


def test_history_reads_from_the_end_across_block_boundaries(tmp_path: Path) -> None:
    store = JsonSessionStore(tmp_path)
    big_notes = "x" * 50_000
    lines = [ended(n).model_copy(update={"notes": big_notes}).model_dump_json() for n in range(6)]
    (tmp_path / "go_history.jsonl").write_text("\n".join(lines) + "\n")
    assert [s.id for s in store.history(4)] == ["id5", "id4", "id3", "id2"]


@pytest.mark.parametrize(
    "content", ["{not json", "[]", json.dumps({"session": {"active": "maybe?"}})]
)
@json_only
def test_corrupted_session_file_is_a_clear_error(
    services: Services, data_dir: Path, content: str
) -> None:
    (data_dir / "go_session.json").write_text(content)
    with pytest.raises(StoreCorrupted, match=r"go_session\.json"):
        services.sessions.get()


@json_only
def test_original_single_session_file_is_read(services: Services, data_dir: Path) -> None:
    """A `go_session.json` written by the original system (no `scopes`) still loads."""
    original = {
        "session": {
            "active": True,
            "started_at_utc": "2026-01-01T09:33:11.559513Z",
            "ended_at_utc": None,
            "cone_band": "B",
            "status": "green",
            "notes": "legacy",
            "scope": "workspace",
            "id": "legacy1",
            "snapshot": {
                "cone": {"band": "B", "reason": "r", "updated_at_utc": None, "metrics": {}},
                "status": {"status": "green", "reasons": []},
            },
        }
    }
    (data_dir / "go_session.json").write_text(json.dumps(original))
    assert services.sessions.get().notes == "legacy"
    assert services.sessions.end("U1", None, "bye").session.id == "legacy1"


@json_only
def test_channel_scopes_live_in_their_own_files_with_an_index(
    make_services: Callable[..., Services], green: Path
) -> None:
    services = make_services(session_scope="channel")
    a = services.sessions.start("U1", "C1", "").session
    b = services.sessions.start("U2", "C2", "").session
    assert (green / "sessions" / "channel-C1.json").exists()
    index = json.loads((green / "go_active.json").read_text())
    assert {scope: entry["id"] for scope, entry in index.items()} == {
        "channel:C1": a.id,
        "channel:C2": b.id,
    }
    assert json.loads((green / "go_session.json").read_text())["session"]["id"] == b.id
    services.sessions.end("U1", "C1", "")
    assert "channel:C1" not in json.loads((green / "go_active.json").read_text())
    assert [s.id for s in services.sessions.active()] == [b.id]


def test_due_lists_sessions_whose_reminder_or_check_is_due(tmp_path: Path) -> None:
    store = committing(JsonUnitOfWork(tmp_path)).sessions
    for n, (reminder, watch) in enumerate(
        [
            ("2026-01-01T10:00:00Z", None),
            (None, "2026-01-01T09:30:00Z"),
            ("2026-01-01T12:00:00Z", None),
        ]
    ):
        session = GoSession(
            active=True, id=f"s{n}", scope=f"channel:C{n}", started_at_utc="2026-01-01T09:00:00Z"
        )
        session.reminder.next_due_utc = parse_utc(reminder) if reminder else None
        session.watch.next_check_utc = parse_utc(watch) if watch else None
        store.create(session)
    assert [s.id for s in store.due(parse_utc("2026-01-01T09:00:00Z"))] == []
    assert {s.id for s in store.due(parse_utc("2026-01-01T10:00:00Z"))} == {"s0", "s1"}
    assert {s.id for s in store.due(parse_utc("2026-01-01T12:00:00Z"))} == {"s0", "s1", "s2"}


def test_replace_writes_only_the_scopes_current_session(tmp_path: Path) -> None:
    store = committing(JsonUnitOfWork(tmp_path)).sessions
    first = GoSession(
        active=True, id="a", scope="channel:C1", started_at_utc="2026-01-01T09:00:00Z"
    )
    store.create(first)
    first.reminder.sent = 3
    assert store.replace(first)
    stored = store.get("channel:C1")
    assert stored is not None and stored.reminder.sent == 3
    assert not store.replace(first.model_copy(update={"id": "other"}))


def test_stale_index_entries_are_ignored_and_healed(tmp_path: Path) -> None:
    store = committing(JsonUnitOfWork(tmp_path)).sessions
    store.create(
        GoSession(active=True, id="a", scope="channel:C1", started_at_utc="2026-01-01T09:00:00Z")
    )
    index = json.loads((tmp_path / "go_active.json").read_text())
    index["channel:C9"] = {"id": "ghost", "reminder": "2000-01-01T00:00:00Z", "watch": None}
    (tmp_path / "go_active.json").write_text(json.dumps(index))
    assert [s.id for s in store.active()] == ["a"]
    assert store.due(parse_utc("2026-01-01T00:00:00Z")) == []
    store.create(
        GoSession(active=True, id="b", scope="channel:C2", started_at_utc="2026-01-01T09:00:00Z")
    )
    assert set(json.loads((tmp_path / "go_active.json").read_text())) == {
        "channel:C1",
        "channel:C2",
    }


def test_an_earlier_due_time_reaches_the_index_at_once(tmp_path: Path) -> None:
    store = committing(JsonUnitOfWork(tmp_path)).sessions
    session = GoSession(
        active=True, id="a", scope="channel:C1", started_at_utc="2026-01-01T09:00:00Z"
    )
    session.reminder.next_due_utc = parse_utc("2026-01-01T10:00:00Z")
    store.create(session)
    session.reminder.next_due_utc = parse_utc("2026-01-01T11:00:00Z")  # later: may wait
    store.replace(session)
    session.reminder.next_due_utc = parse_utc("2026-01-01T09:30:00Z")  # earlier: must not
    store.replace(session)
    index = json.loads((tmp_path / "go_active.json").read_text())
    assert index["channel:C1"]["reminder"] == "2026-01-01T09:30:00.000000Z"
    due = JsonSessionStore(tmp_path).due(parse_utc("2026-01-01T09:30:00Z"))
    assert [s.id for s in due] == ["a"]


@json_only
def test_go_session_json_keeps_the_original_shape(services: Services, data_dir: Path) -> None:
    session = services.sessions.start("U1", "C1", "").session
    stored = json.loads((data_dir / "go_session.json").read_text())
    assert set(stored) == {"session"}
    assert stored["session"]["id"] == session.id and stored["session"]["active"] is True


def test_a_session_is_found_by_id_across_blocks_and_slightly_out_of_end_order(
    tmp_path: Path,
) -> None:
    """History lines bigger than a read block, and end times a few minutes out of order (the
    clocks of two processes), as a data dir written before ids carried their start."""
    start = parse_utc("2026-01-01T09:00:00Z")
    sessions = []
    for n in range(40):
        began = start + timedelta(minutes=30 * n)
        finished = began + timedelta(minutes=20 - 6 * (n % 2))  # odd ones end "earlier"
        sessions.append(
            ended(n).model_copy(
                update={
                    "id": time_ordered_id(began) if n % 3 else uuid.uuid4().hex,
                    "started_at_utc": began,
                    "ended_at_utc": finished,
                    "notes": "x" * 30_000,
                }
            )
        )
    lines = [session.model_dump_json() for session in sessions]
    (tmp_path / "go_history.jsonl").write_text("\n".join(lines) + "\n")
    store = JsonSessionStore(tmp_path)
    for session in sessions:
        assert store.find(session.id or "") == session
    assert store.find(time_ordered_id(start + timedelta(days=30))) is None
    week = store.history(100, since=sessions[10].ended_at_utc, until=sessions[20].ended_at_utc)
    expected = [
        s
        for s in sessions
        if s.ended_at_utc is not None
        and sessions[10].ended_at_utc is not None
        and sessions[20].ended_at_utc is not None
        and sessions[10].ended_at_utc <= s.ended_at_utc < sessions[20].ended_at_utc
    ]
    assert week == expected[::-1]


@json_only
def test_a_reports_check_reads_from_its_mark_and_a_moved_mark_means_a_full_check(
    services: Services, data_dir: Path
) -> None:
    services.sessions.start("U1", "C1", "")
    services.sessions.end("U1", "C1", "")
    assert services.audit.verify_recent().ok
    mark = json.loads((data_dir / "audit.verified").read_text())
    log = data_dir / "audit.log"
    lines = log.read_text().split("\n")
    assert mark["seq"] == len(lines) - 1 and mark["end"] == log.stat().st_size
    # an edit before the mark is for the full check (`gobot audit verify`) to find
    log.write_text("\n".join([lines[0].replace('"U1"', '"U9"'), *lines[1:]]))
    assert services.audit.verify_recent().ok and not services.audit.verify().ok
    log.write_text("\n".join(lines))
    # an edit after the mark is found by the next check from the mark
    services.sessions.start("U2", "C1", "")
    edited = log.read_text().replace('"U2"', '"U8"')
    log.write_text(edited)
    result = services.audit.verify_recent()
    assert not result.ok and result.problem is not None and "edited" in result.problem
    # the marked record itself replaced: the check starts over from the first record
    log.write_text("\n".join(lines[:-2]) + "\n")
    result = services.audit.verify_recent()
    assert not result.ok and result.line_number is not None
