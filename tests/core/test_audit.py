from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.clock import parse_utc
from core.models import AuditEvent
from core.stores.json.audit import JsonAuditLog
from tests.units import json_unit

AT = parse_utc("2026-01-01T09:00:00.000000Z")


def build_log(directory: Path, count: int, note: str = "n") -> JsonAuditLog:
    log = JsonAuditLog(directory)
    for n in range(count):
        with json_unit(directory):
            log.append(
                AuditEvent(
                    event="GO_SESSION_START",
                    actor=f"U{n}",
                    channel="C1",
                    session_id=f"s{n}",
                    data={"notes": f"{note} é ✓ {n}"},
                ),
                AT,
            )
    return log


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("audit")
    build_log(directory, 4)
    return directory


def copy_of(pristine: Path) -> Path:
    target = Path(tempfile.mkdtemp())
    for name in ("audit.log", "audit.head"):
        shutil.copy(pristine / name, target / name)
    return target


def test_records_are_chained_and_verify(tmp_path: Path) -> None:
    log = build_log(tmp_path, 3)
    lines = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert [r["seq"] for r in lines] == [1, 2, 3]
    assert lines[0]["prev"] == "0" * 64
    assert lines[1]["prev"] == lines[0]["hash"] and lines[2]["prev"] == lines[1]["hash"]
    assert list(lines[0])[-1] == "hash"
    result = log.verify()
    assert result.ok and result.records == 3 and result.problem is None
    assert [r["seq"] for r in log.tail(2)] == [2, 3]


def test_empty_log_verifies(tmp_path: Path) -> None:
    result = JsonAuditLog(tmp_path).verify()
    assert result.ok and result.records == 0


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_byte_edit_is_detected(pristine: Path, data: st.DataObject) -> None:
    original = (pristine / "audit.log").read_bytes()
    position = data.draw(st.integers(0, len(original) - 1), label="position")
    replacement = data.draw(
        st.integers(0, 255).filter(lambda b: b != original[position]), label="byte"
    )
    edited = bytearray(original)
    edited[position] = replacement
    directory = copy_of(pristine)
    try:
        (directory / "audit.log").write_bytes(bytes(edited))
        assert not JsonAuditLog(directory).verify().ok
    finally:
        shutil.rmtree(directory)


def rewrite(directory: Path, transform: object) -> list[bytes]:
    lines = (directory / "audit.log").read_bytes().splitlines(keepends=True)
    assert callable(transform)
    new = transform(lines)
    (directory / "audit.log").write_bytes(b"".join(new))
    return list(new)


@pytest.mark.parametrize(
    ("name", "transform", "bad_line"),
    [
        ("delete first", lambda lines: lines[1:], 1),
        ("delete middle", lambda lines: lines[:1] + lines[2:], 2),
        ("delete last", lambda lines: lines[:-1], 4),
        ("swap two", lambda lines: [lines[1], lines[0], *lines[2:]], 1),
        ("duplicate one", lambda lines: lines[:2] + lines[1:], 3),
    ],
)
def test_deletion_and_reordering_name_the_first_bad_line(
    pristine: Path, name: str, transform: object, bad_line: int
) -> None:
    directory = copy_of(pristine)
    rewrite(directory, transform)
    result = JsonAuditLog(directory).verify()
    assert not result.ok, name
    assert result.line_number == bad_line, result.problem
    assert result.problem


def test_missing_head_is_detected(pristine: Path) -> None:
    directory = copy_of(pristine)
    (directory / "audit.head").unlink()
    assert not JsonAuditLog(directory).verify().ok


def test_torn_last_line_is_tolerated_and_repaired_by_the_next_append(pristine: Path) -> None:
    directory = copy_of(pristine)
    with open(directory / "audit.log", "ab") as handle:
        handle.write(b'{"seq":5,"at_utc":"2026-01-01T09:0')
    log = JsonAuditLog(directory)
    result = log.verify()
    assert result.ok and result.records == 4
    assert result.warning is not None and "torn" in result.warning
    with json_unit(directory):
        record = log.append(AuditEvent(event="GO_SESSION_END", actor="U9"), AT)
    assert record["seq"] == 5
    after = log.verify()
    assert after.ok and after.records == 5 and after.warning is None


def test_a_head_behind_the_log_is_detected(pristine: Path) -> None:
    """Record and head are one unit of work, so no crash leaves the head behind: an older head
    put back (or records added by hand) is caught."""
    directory = copy_of(pristine)
    head = (directory / "audit.head").read_text()
    with json_unit(directory):
        JsonAuditLog(directory).append(AuditEvent(event="GO_SESSION_END"), AT)
    (directory / "audit.head").write_text(head)
    result = JsonAuditLog(directory).verify()
    assert not result.ok and result.problem is not None and "head names record 4" in result.problem


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.text(), min_size=1, max_size=4))
def test_any_event_text_round_trips_and_verifies(texts: list[str]) -> None:
    directory = Path(tempfile.mkdtemp())
    try:
        log = JsonAuditLog(directory)
        for text in texts:
            with json_unit(directory):
                log.append(
                    AuditEvent(event="GO_STEP_COMPLETE", actor=text, data={"notes": text}), AT
                )
        assert log.verify().ok
        assert [r["data"]["notes"] for r in log.tail(len(texts))] == texts
    finally:
        shutil.rmtree(directory)


def test_descriptors_stay_bounded_however_many_data_dirs(tmp_path: Path) -> None:
    """A process with many data dirs (the test suite) keeps a bounded number of descriptors."""
    import os

    before = len(os.listdir("/proc/self/fd"))
    for n in range(150):
        directory = tmp_path / f"d{n}"
        directory.mkdir()
        with json_unit(directory):
            JsonAuditLog(directory).append(AuditEvent(event="GO_SESSION_START"), AT)
    opened = len(os.listdir("/proc/self/fd")) - before
    assert opened <= 150 + 2 * 64 + 5  # a lock per dir, and the capped caches
    assert all(JsonAuditLog(tmp_path / f"d{n}").verify().ok for n in (0, 75, 149))
