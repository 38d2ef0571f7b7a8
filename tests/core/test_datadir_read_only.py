"""A data directory opened to read only (the CLI's reading commands): it creates no file and
commits no change, keeps out of a writer's way once the writer has made the journal, and a
change a crashed writer committed is still finished before anything is read (or, where it
cannot be, said so)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.errors import StoreUnavailable
from core.stores.json.datadir import DataDir
from core.stores.json.journal import JOURNAL_FILE, Header, frame
from tests.conftest import outside_env, wait_until
from tests.core.test_datadir import unshare_problem


def test_a_reader_creates_nothing_and_commits_nothing(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"n": 1}')
    reader = DataDir(tmp_path, read_only=True)
    with reader.transaction():
        assert reader.read_json(tmp_path / "state.json") == {"n": 1}
    with pytest.raises(StoreUnavailable) as refused, reader.own_unit():
        reader.write_json(tmp_path / "state.json", {"n": 2})
    assert refused.value.message == "the data directory was opened to read only"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    assert (tmp_path / "state.json").read_text() == '{"n": 1}'


def test_a_reader_waits_on_the_journal_a_writer_made_after_it_opened(tmp_path: Path) -> None:
    reader = DataDir(tmp_path, read_only=True)  # no journal yet: it locks the directory
    with reader.transaction():
        assert reader.read_json(tmp_path / "state.json") is None
    writer = DataDir(tmp_path)  # another process, as far as the lock is concerned
    with writer.own_unit():
        writer.write_json(tmp_path / "state.json", {"n": 1})
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with writer.transaction():
            held.set()
            time.sleep(0.6)
            done.set()  # still holding the lock

    holder = threading.Thread(target=hold)
    holder.start()
    wait_until(held.is_set, what="the writer holding the lock")
    with reader.transaction():
        assert done.is_set(), "the reader got in while the writer held the journal's lock"
        assert reader.read_json(tmp_path / "state.json") == {"n": 1}
    holder.join()


def left_unfinished(directory: Path) -> None:
    """The journal of a writer that crashed after its commit point: one whole record, not
    yet applied."""
    record = {"writes": {"state.json": '{"n":2}\n'}, "appends": {"log.txt": [0, "one\n"]}}
    header = Header(128, 1).encode()
    (directory / JOURNAL_FILE).write_bytes(header + frame(record))


def test_a_reader_finishes_a_change_a_crashed_writer_committed(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"n":1}\n')
    left_unfinished(tmp_path)
    reader = DataDir(tmp_path, read_only=True)
    with reader.transaction():
        assert reader.read_json(tmp_path / "state.json") == {"n": 2}
    assert (tmp_path / "log.txt").read_text() == "one\n"
    with DataDir(tmp_path).transaction():  # a writer finds nothing left to do
        pass
    assert (tmp_path / "log.txt").read_text() == "one\n"


def test_a_read_only_copy_holding_an_unfinished_change_is_said_by_the_cli(
    tmp_path: Path,
) -> None:
    problem = unshare_problem()
    if problem is not None:
        pytest.skip(problem)
    left_unfinished(tmp_path)
    script = f"mount --bind -o ro {tmp_path} {tmp_path} && {sys.executable} -m bot status"
    result = subprocess.run(
        ["unshare", "-m", "bash", "-c", script],
        env=outside_env(GOBOT_DATA_DIR=str(tmp_path)),
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        "gobot: the data directory cannot be written and holds a change left unfinished\n"
    )
    assert not (tmp_path / "state.json").exists()  # the change waits for a writer
