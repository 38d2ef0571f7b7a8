"""The data directory's journal in the cases a crash sweep does not reach: a record that cannot
be taken back (nor a file it created), a file left half overwritten by a crash, a forked child,
a machine with no boot id, another process's writes under the read cache and after a line this
process appended, removed files kept as spares for the next file made, the zeros the journal
keeps ahead of its records (and a journal with no room for them), and a data directory that
cannot be written."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import StoreUnavailable
from core.services import Services
from core.stores.json import datadir
from core.stores.json import journal as wal
from core.stores.json.commit import MAX_SPARES, SPARE_PREFIX
from core.stores.json.datadir import DataDir
from tests.conftest import json_only, outside_env, wait_until
from tests.faults import STORE_MODULES, FaultyOs, fail_with, kill_self, put_between


@json_only
def test_a_record_that_cannot_be_taken_back_is_reported_as_maybe_kept(
    services: Services, faulty_os: Callable[[object], None]
) -> None:
    """The fsync of the journal fails, and so does cutting the record off again: the operator
    is not told "nothing changed", since the next reader will apply the record."""
    assert not services.sessions.get().active  # the journal exists
    faulty_os(FaultyOs(1, fail_with(errno.EIO), every=True, names=("fdatasync", "ftruncate")))
    with pytest.raises(StoreUnavailable) as failed:
        services.sessions.start("U1", "C1", "launch")
    assert failed.value.kept and "may still be completed" in failed.value.message
    faulty_os(os)
    assert services.sessions.get().active  # ... and so it was
    assert services.audit.verify().ok


def test_a_created_file_that_cannot_be_taken_back_keeps_its_change(
    tmp_path: Path, faulty_os: Callable[[object], None]
) -> None:
    """Writing a new file fails after the commit point, and so does removing it again: the
    record stays, the operator is told the change may still be completed, and it is."""
    shared = datadir.data_dir(tmp_path)
    with shared.own_unit():
        shared.write_json(tmp_path / "old.json", {"v": 1})
    pwrites = 0

    def fault(name: str) -> None:
        nonlocal pwrites
        pwrites += name == "pwrite"
        if name == "unlink" or pwrites == 2:  # the journal's pwrite, then the new file's
            raise OSError(errno.EIO, os.strerror(errno.EIO))

    faulty_os(FaultyOs(1, fault, every=True, names=("pwrite", "unlink")))
    with pytest.raises(StoreUnavailable) as failed, shared.own_unit():
        shared.write_json(tmp_path / "old.json", {"v": 2})
        shared.write_json(tmp_path / "new.json", {"v": 2})
    assert failed.value.kept
    faulty_os(os)
    with shared.transaction():
        assert shared.read_json(tmp_path / "old.json") == shared.read_json(tmp_path / "new.json")
        assert shared.read_json(tmp_path / "new.json") == {"v": 2}


def test_a_file_half_overwritten_by_a_crash_is_whole_before_anyone_reads_it(
    tmp_path: Path,
) -> None:
    """A writer killed between overwriting a file in place and cutting it to its new length
    leaves a torn file on disk; the next lock holder replays the record before it reads."""
    path = tmp_path / "state.json"
    shared = datadir.data_dir(tmp_path)
    with shared.own_unit():
        shared.write_json(path, {"notes": "x" * 200})
    pid = os.fork()
    if pid == 0:  # killed at its 4th write: journal pwrite, fsync, overwrite, ftruncate
        try:
            put_between(FaultyOs(4, kill_self))
            with datadir.data_dir(tmp_path).own_unit():
                datadir.data_dir(tmp_path).write_json(path, {"notes": "short"})
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    assert path.read_bytes().startswith(b'{"notes":"short"}\n')  # torn: the old tail is left
    assert path.stat().st_size > len(b'{"notes":"short"}\n')
    with shared.transaction():
        assert shared.read_json(path) == {"notes": "short"}
    assert path.read_bytes() == b'{"notes":"short"}\n'


def test_a_forked_child_locks_on_its_own(tmp_path: Path) -> None:
    shared = datadir.data_dir(tmp_path)
    with shared.own_unit():
        shared.write_json(tmp_path / "state.json", {"n": 0})
    held = tmp_path / "held"
    pid = os.fork()
    if pid == 0:
        try:
            with datadir.data_dir(tmp_path).transaction():
                held.write_text("yes")
                time.sleep(0.6)
        finally:
            os._exit(0)
    wait_until(held.exists, what="the child holding the lock")
    waited = time.monotonic()
    with shared.transaction():
        waited = time.monotonic() - waited
    os.waitpid(pid, 0)
    assert waited >= 0.3, "the parent got the lock while its child held it"


def test_with_no_boot_id_the_journal_is_replayed_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wal, "BOOT", b"unknown")
    writer = DataDir(tmp_path)
    for n in range(30):
        with writer.own_unit():
            writer.write_json(tmp_path / f"f{n}.json", {"n": n})
    reader = DataDir(tmp_path)  # another process, as far as the journal is concerned
    counting = FaultyOs(0, lambda name: None)
    for module in STORE_MODULES:
        monkeypatch.setattr(module, "os", counting)
    with reader.transaction():
        pass  # its first look replays every record since the checkpoint
    replayed = counting.calls
    for _ in range(3):
        with reader.transaction():
            pass  # later looks trust the header the first one wrote
    assert replayed >= 30 and counting.calls == replayed


def test_a_reader_never_serves_a_stale_copy_of_another_process_write(tmp_path: Path) -> None:
    writer, reader = DataDir(tmp_path), DataDir(tmp_path)
    path = tmp_path / "state.json"
    pinned = 1_700_000_000_000_000_000
    for n in range(60):
        with writer.own_unit():
            writer.write_json(path, {"v": n % 10})  # the same size every time
        os.utime(path, ns=(pinned, pinned))  # and the same mtime: a coarse clock
        with reader.transaction():
            assert reader.read_json(path) == {"v": n % 10}


def test_a_line_file_another_process_appended_to_is_read_again(tmp_path: Path) -> None:
    """A process remembers where its own last append ended; another process's append since
    makes it look at the file again, so no line is written over."""
    one, other = DataDir(tmp_path), DataDir(tmp_path)
    log = tmp_path / "lines.log"
    for n in range(6):
        writer, idle = (one, other) if n % 2 == 0 else (other, one)
        with writer.own_unit():
            writer.append_line(log, f"line {n}")
        assert writer.last_line(log) == f"line {n}"
        with idle.transaction():
            assert idle.last_line(log) is None  # not its own: it reads the file
    assert log.read_text().splitlines() == [f"line {n}" for n in range(6)]


def spares(directory: Path) -> list[Path]:
    return [path for path in directory.iterdir() if path.name.startswith(SPARE_PREFIX)]


def test_a_removed_file_is_kept_as_a_spare_and_becomes_the_next_file_made(tmp_path: Path) -> None:
    """A file a change removes is kept as a spare; the next file a change makes is that file
    renamed into place and holding exactly its new content, for this process and another."""
    writer = DataDir(tmp_path)
    old, new = tmp_path / "outbox" / "q-old.json", tmp_path / "outbox" / "q-new.json"
    with writer.own_unit():
        writer.write_json(old, {"items": ["x" * 500]})
    inode = old.stat().st_ino
    with writer.own_unit():
        writer.delete(old)
    [spare] = spares(tmp_path)
    assert not old.exists() and spare.stat().st_ino == inode
    with writer.own_unit():
        writer.write_json(new, {"items": []})
    assert spares(tmp_path) == [] and new.stat().st_ino == inode
    assert new.read_bytes() == b'{"items":[]}\n'
    reader = DataDir(tmp_path)
    with reader.transaction():
        assert reader.read_json(new) == {"items": []} and not reader.exists(old)


def test_a_process_uses_the_spares_another_left_and_does_without_one_taken(
    tmp_path: Path,
) -> None:
    first = DataDir(tmp_path)
    names = [tmp_path / f"f{n}.json" for n in range(3)]
    with first.own_unit():
        for path in names:
            first.write_json(path, {"n": path.name})
    with first.own_unit():
        for path in names:
            first.delete(path)
    assert len(spares(tmp_path)) == 3
    later = DataDir(tmp_path)  # a process started later finds them
    with later.own_unit():
        later.write_json(tmp_path / "a.json", {"a": 1})
    assert len(spares(tmp_path)) == 2
    for spare in spares(tmp_path):
        spare.unlink()  # taken by another process meanwhile
    with first.own_unit():
        first.write_json(tmp_path / "b.json", {"b": 2})
    assert (tmp_path / "b.json").read_bytes() == b'{"b":2}\n'


def test_spares_that_cannot_be_renamed_there_are_not_needed(
    tmp_path: Path, faulty_os: Callable[[object], None]
) -> None:
    """A folder on another file system than the root (EXDEV): a file is made new and removed
    for good instead."""
    shared = DataDir(tmp_path)
    old, new = tmp_path / "outbox" / "q-old.json", tmp_path / "outbox" / "q-new.json"
    with shared.own_unit():
        shared.write_json(old, {"n": 1})
    with shared.own_unit():
        shared.delete(old)
    assert len(spares(tmp_path)) == 1
    faulty_os(FaultyOs(1, fail_with(errno.EXDEV), every=True, names=("rename",)))
    with shared.own_unit():
        shared.write_json(new, {"n": 2})
    with shared.own_unit():
        shared.delete(new)
    faulty_os(os)
    assert not new.exists() and not old.exists() and len(spares(tmp_path)) == 1


class WithoutFdatasync:
    """`os` as on macOS, which has no `fdatasync`."""

    def __getattr__(self, name: str) -> object:
        if name == "fdatasync":
            raise AttributeError(name)
        return getattr(os, name)


def test_where_there_is_no_fdatasync_a_commit_uses_fsync(
    tmp_path: Path, faulty_os: Callable[[object], None]
) -> None:
    faulty_os(WithoutFdatasync())
    shared = DataDir(tmp_path)
    with shared.own_unit():
        shared.write_json(tmp_path / "s.json", {"n": 1})
    faulty_os(os)
    later = DataDir(tmp_path)
    with later.transaction():
        assert later.read_json(tmp_path / "s.json") == {"n": 1}


def test_no_more_than_max_spares_are_kept(tmp_path: Path) -> None:
    shared = DataDir(tmp_path)
    names = [tmp_path / f"f{n}.json" for n in range(MAX_SPARES + 3)]
    with shared.own_unit():
        for path in names:
            shared.write_json(path, {"n": 1})
    with shared.own_unit():
        for path in names:
            shared.delete(path)
    assert len(spares(tmp_path)) == MAX_SPARES and not any(path.exists() for path in names)


def test_the_journal_keeps_zeros_ahead_and_no_record_outlives_a_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records are written over zeros the journal holds (it never grows, so a commit's sync has
    no block to allocate); a checkpoint empties it and no older record is left after the new
    ones, even for a process that replays every record (another boot)."""
    shared, journal, path = DataDir(tmp_path), tmp_path / wal.JOURNAL_FILE, tmp_path / "s.json"
    with shared.own_unit():
        shared.write_json(path, {"n": 0})
    assert journal.stat().st_size == wal.HEADER_SIZE + wal.ZEROS_AHEAD
    for n in range(1, 200):
        with shared.own_unit():
            shared.write_json(path, {"n": n, "pad": "x" * 10_000})
        if wal.scan(journal.read_bytes()[wal.HEADER_SIZE :])[1] == 0:
            break  # emptied by the commit that passed CHECKPOINT_BYTES
    else:
        pytest.fail("the journal was never emptied")
    n += 1
    with shared.own_unit():
        shared.write_json(path, {"n": n, "pad": "x" * 10_000})
    assert journal.stat().st_size == wal.HEADER_SIZE + wal.ZEROS_AHEAD
    data = journal.read_bytes()
    records, zeros_at = wal.scan(data[wal.HEADER_SIZE :])
    assert zeros_at is not None and data[wal.HEADER_SIZE + zeros_at :].strip(b"\0") == b""
    assert [json.loads(r["writes"]["s.json"])["n"] for _, r in records] == [n]
    monkeypatch.setattr(wal, "BOOT", b"another-boot")
    later = DataDir(tmp_path)
    with later.transaction():
        assert later.read_json(path) == {"n": n, "pad": "x" * 10_000}


def test_a_journal_without_room_for_its_zeros_appends_its_records(
    tmp_path: Path, faulty_os: Callable[[object], None]
) -> None:
    faulty_os(FaultyOs(2, fail_with(errno.ENOSPC), names=("pwrite",)))  # the header, the zeros
    shared = DataDir(tmp_path)
    with shared.own_unit():
        shared.write_json(tmp_path / "s.json", {"n": 1})
    faulty_os(os)
    journal = tmp_path / wal.JOURNAL_FILE
    assert wal.HEADER_SIZE < journal.stat().st_size < wal.HEADER_SIZE + 4096
    with shared.own_unit():
        shared.write_json(tmp_path / "s.json", {"n": 2})
    later = DataDir(tmp_path)
    with later.transaction():
        assert later.read_json(tmp_path / "s.json") == {"n": 2}


def unshare_problem() -> str | None:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return "needs root and unshare(1) to bind-mount a directory read-only"
    probe = subprocess.run(
        ["unshare", "-m", "true"], capture_output=True, text=True, check=False, timeout=10
    )
    return None if probe.returncode == 0 else f"unshare -m failed: {probe.stderr.strip()}"


TRY_TO_WRITE = """
import sys
from pathlib import Path
from bot.bootstrap import build_services
from bot.settings import Settings
from core.errors import StoreUnavailable
try:
    build_services(Settings(data_dir=Path(sys.argv[1]))).sessions.start("U1", "C1", "x")
except StoreUnavailable as exc:
    print("REFUSED", exc.message, exc.kept)
"""


@json_only
def test_a_read_only_copy_of_the_data_dir_can_be_read_and_refuses_writes(
    services: Services, data_dir: Path, tmp_path: Path
) -> None:
    problem = unshare_problem()
    if problem is not None:
        pytest.skip(problem)
    services.sessions.start("U1", "C1", "launch")
    services.sessions.end("U1", "C1", "done")
    (tmp_path / "write.py").write_text(TRY_TO_WRITE)
    gobot = f"{sys.executable} -m bot"
    script = (
        f"mount --bind -o ro {data_dir} {data_dir} && {gobot} audit verify && "
        f"{gobot} history --format json && {gobot} status && "
        f"{sys.executable} {tmp_path / 'write.py'} {data_dir}"
    )
    read = subprocess.run(
        ["unshare", "-m", "bash", "-c", script],
        env=outside_env(GOBOT_DATA_DIR=str(data_dir)),
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert read.returncode == 0, read.stderr
    assert "audit chain intact: 2 records" in read.stdout
    assert '"end_notes": "done"' in read.stdout and "ended" in read.stdout
    assert "REFUSED the data directory is read-only False" in read.stdout
    assert "Traceback" not in read.stderr
