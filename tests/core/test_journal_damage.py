"""A damaged journal is never trusted: the JSON store applies nothing from a journal whose
record in the middle is not whole (a bit flip, a zero-filled record), that is shorter than what
was applied from it (a truncation), or whose header is unreadable; it says so in one line
naming `gobot recover`, which keeps a copy and goes on from the data files as they are. A torn
last record (a crash mid-append) is still dropped quietly."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import StoreCorrupted
from core.stores.json import journal as wal
from core.stores.json.datadir import data_dir
from core.stores.json.journal import JOURNAL_FILE
from tests.conftest import FakeClock, outside_env, run_gobot
from tests.core.test_crash import fingerprint, services_on

HEADER = 128


@pytest.fixture
def base(tmp_path: Path, clock: FakeClock) -> Path:
    """Start s1, two notes, end; start s2, two notes, end: every change in the journal."""
    directory = tmp_path / "base"
    directory.mkdir()
    services = services_on(directory, clock)
    for session in ("s1", "s2"):
        services.sessions.start("U1", "C1", session)
        services.workspace.note("U1", "C1", f"{session} first")
        services.workspace.note("U1", "C1", f"{session} second")
        services.sessions.end("U1", "C1", "done")
    return directory


def records(journal: Path) -> list[tuple[int, int]]:
    """(start, end) of each record after the header (the zeros kept for the next records, or
    the file's end, follow them)."""
    data = journal.read_bytes()
    spans, at = [], HEADER
    while at < len(data) and data[at] != 0:
        end = data.index(b"\n", at) + 1
        spans.append((at, end))
        at = end
    return spans


def data_files(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not path.name.startswith(JOURNAL_FILE)
    }


def restarted(directory: Path, tmp_path: Path, name: str) -> Path:
    """The data dir as a new process finds it (the store keeps one object per directory)."""
    copy = tmp_path / name
    shutil.copytree(directory, copy)
    return copy


def flip_a_bit_in_the_third(journal: Path) -> None:
    start, _ = records(journal)[2]
    data = bytearray(journal.read_bytes())
    data[start + 40] ^= 0x04
    journal.write_bytes(bytes(data))


def zero_fill_the_last(journal: Path) -> None:
    start, end = records(journal)[-1]
    data = bytearray(journal.read_bytes())
    data[start + 10 : end] = bytes(end - start - 10)
    journal.write_bytes(bytes(data))


def cut_in_the_middle_of_the_fourth(journal: Path) -> None:
    start, end = records(journal)[3]
    with open(journal, "r+b") as handle:
        handle.truncate((start + end) // 2)


def damage_the_header(journal: Path) -> None:
    data = bytearray(journal.read_bytes())
    data[0:10] = b"XXXXXXXXXX"
    journal.write_bytes(bytes(data))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "bit flip": flip_a_bit_in_the_third,
    "zero fill": zero_fill_the_last,
    "truncation": cut_in_the_middle_of_the_fourth,
    "header": damage_the_header,
}


@pytest.fixture(params=["same boot", "machine restart"])
def boot(request: pytest.FixtureRequest) -> str:
    """Whether the next process runs in the boot that wrote the journal or after a restart
    of the machine (then nothing the header says it applied is trusted)."""
    return str(request.param)


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_nothing_is_applied_from_a_damaged_journal_and_recover_keeps_the_data(
    *,
    base: Path,
    tmp_path: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    boot: str,
    damage: str,
) -> None:
    expected = fingerprint(services_on(restarted(base, tmp_path, "clean"), clock), base)
    directory = restarted(base, tmp_path, "damaged")
    DAMAGE[damage](directory / JOURNAL_FILE)
    if boot == "machine restart":
        monkeypatch.setattr(wal, "BOOT", b"another-boot")
    files = data_files(directory)

    with pytest.raises(StoreCorrupted) as refused:
        services_on(directory, clock).sessions.get("C1")
    assert f"{JOURNAL_FILE} is damaged" in refused.value.message
    assert "run `gobot recover`" in refused.value.message
    assert data_files(directory) == files  # nothing older was put over newer files

    store = data_dir(directory)
    assert store.damage() is not None
    kept = store.set_aside("20260101T000000Z")
    assert kept.read_bytes() != b"" and kept.parent == directory
    assert store.damage() is None
    services = services_on(directory, clock)
    assert fingerprint(services, directory) == expected
    assert services.audit.verify().ok and services.audit.verify().records == 8

    monkeypatch.setattr(wal, "BOOT", b"a-later-boot")
    again = restarted(directory, tmp_path, "after-recover")
    assert fingerprint(services_on(again, clock), again) == expected


TORN = b'000004d2 1234abcd {"writes": {"go_session.json"'  # an append cut short by a crash


def tear_after_the_last(journal: Path) -> None:
    """A torn record where the next one goes: over the zeros the journal keeps ahead."""
    with open(journal, "r+b") as handle:
        handle.seek(records(journal)[-1][1])
        handle.write(TORN)


def tear_at_the_end_of_an_older_journal(journal: Path) -> None:
    """As an older gobot's journal ends (no zeros ahead), then a torn append."""
    with open(journal, "r+b") as handle:
        handle.truncate(records(journal)[-1][1])
        handle.seek(0, 2)
        handle.write(TORN)


@pytest.mark.parametrize("tear", [tear_after_the_last, tear_at_the_end_of_an_older_journal])
def test_a_torn_last_record_is_dropped_and_the_rest_applied(
    base: Path,
    tmp_path: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    tear: Callable[[Path], None],
) -> None:
    expected = fingerprint(services_on(restarted(base, tmp_path, "clean"), clock), base)
    directory = restarted(base, tmp_path, "torn")
    journal = directory / JOURNAL_FILE
    last = records(journal)[-1][1]
    tear(journal)
    monkeypatch.setattr(wal, "BOOT", b"another-boot")  # every record is applied again
    services = services_on(directory, clock)
    assert fingerprint(services, directory) == expected
    assert journal.read_bytes()[last:].strip(b"\0") == b""  # the torn bytes are gone
    services.sessions.start("U1", "C1", "after the tear")
    assert services_on(restarted(directory, tmp_path, "later"), clock).sessions.get("C1").active


def test_the_command_line_names_the_damage_and_recovers(base: Path, tmp_path: Path) -> None:
    directory = restarted(base, tmp_path, "cli")
    damage_the_header(directory / JOURNAL_FILE)
    env = outside_env(GOBOT_DATA_DIR=str(directory))
    for args, code in ((("status",), 1), (("audit", "verify"), 2)):  # verify: 2, cannot read
        result = run_gobot(*args, env=env)
        assert result.returncode == code, result
        assert "Traceback" not in result.stderr
        assert f"{JOURNAL_FILE} is damaged" in result.stderr
        assert "gobot recover" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    recovered = run_gobot("recover", env=env)
    assert recovered.returncode == 0, recovered
    assert "set aside as go_journal.wal.damaged-" in recovered.stdout
    verified = run_gobot("audit", "verify", env=env)
    assert verified.returncode == 0 and "intact: 8 records" in verified.stdout
    assert "nothing to recover" in run_gobot("recover", env=env).stdout
