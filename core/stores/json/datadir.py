"""The JSON store's unit of work: one data directory, one lock, one write-ahead journal.

Every change to the data directory is staged in memory while its transaction runs (reads see
what the transaction staged), then committed all at once:

1. every new file content is written to a temp file in the data directory;
2. one journal record holding the whole change (each file's new content, each line appended
   with the offset it goes at, each file deleted) is appended to `go_journal.wal` and fsynced:
   this is the commit point;
3. the appends are written at their offsets, the temp files renamed over their targets, the
   deletions made;
4. the journal header's "applied up to" mark is moved past the record.

A failure before the commit point, or while appending in step 3, undoes what was done and
raises `StoreUnavailable` with nothing changed. A failure after the appends is only logged: the
change is committed, and the next lock holder's replay puts it in place. A crash at any point
leaves either no record (nothing happened) or a whole record, which the next lock holder applies
again (every step is idempotent: a file is set to a content, a line is written at a fixed
offset). A process that opens the directory first replays every record since the last
checkpoint, since the files it names may not have reached the disk. Once the journal grows past
`CHECKPOINT_BYTES` every file it names is fsynced and the journal emptied. Readers hold the
same lock, so no reader ever sees half a change.

Only an explicit transaction writes: a unit of work (`with uow: ...; uow.commit()`), or a
store's own bookkeeping in `own_unit`. A store method called outside one reads (in a
transaction of its own, so it never sees half a change); a write there raises RuntimeError and
writes nothing. Journal recovery and checkpoints are the lock holder's own work, done as it
takes the lock or commits.

A data directory opened to read only (`data_dir(..., read_only=True)`, the CLI's reading
commands) creates nothing and commits nothing: without a journal it locks the directory itself
until a writer has made one. It writes only to finish a change a crashed writer committed, as
every lock holder does; where it cannot, it says so rather than read around it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from core.errors import StoreCorrupted, StoreUnavailable
from core.stores.json import journal
from core.stores.json.journal import (
    HEADER_SIZE,
    JOURNAL_FILE,
    RECOVER_HINT,
    Header,
    dumps_compact,
    frame,
    scan,
    torn_tail,
)
from core.stores.json.lines import append_offset
from core.stores.unit import WRITE_OUTSIDE_UNIT

log = logging.getLogger("gobot.store")
TEMP_PREFIX = ".gobot-tmp-"
CHECKPOINT_BYTES = 1 << 20
PROBE = b"gobot can write here\n"

_PROBLEMS = {
    errno.ENOSPC: "the data disk is full",
    errno.EDQUOT: "the data disk quota is used up",
    errno.EROFS: "the data directory is read-only",
    errno.EACCES: "gobot may not write to its data directory",
    errno.EPERM: "gobot may not write to its data directory",
    errno.EIO: "the data disk reported an I/O error",
}


def describe_os_error(exc: OSError) -> str:
    """What went wrong, in words an operator acts on (never a server path)."""
    return _PROBLEMS.get(
        exc.errno or 0, f"the data directory could not be written ({exc.strerror})"
    )


@dataclass
class Unit:
    """The change a transaction has staged: whole-file writes (None deletes) and appended
    lines, by path relative to the data directory, in the order they were made. An explicit
    one commits only once `keep` is set."""

    writes: dict[str, str | None] = field(default_factory=dict)
    appends: dict[str, list[str]] = field(default_factory=dict)
    parsed: dict[str, Any] = field(default_factory=dict)
    explicit: bool = False
    keep: bool = False

    def empty(self) -> bool:
        return not self.writes and not self.appends


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _write_at(path: Path, offset: int, text: str) -> None:
    """Make the file end with `text` at `offset` (a repeat leaves the same bytes)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.ftruncate(fd, offset)
        data = text.encode("utf-8")
        if os.pwrite(fd, data, offset) != len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    finally:
        os.close(fd)


class DataDir:
    """A data directory: one per directory per process (`data_dir()`). One that cannot be
    written (a read-only copy) can still be read, if no change is left to finish; one opened
    `read_only` creates no file and commits no change."""

    def __init__(self, root: Path, *, read_only: bool = False) -> None:
        self.root = root
        self.read_only = read_only
        self._path = root / JOURNAL_FILE
        self._locks_root = False
        try:
            if read_only:
                self._fd, self._writable = os.open(self._path, os.O_RDWR), True
            else:
                os.makedirs(root, exist_ok=True)
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
                self._writable = True
        except OSError as exc:
            self._fd, self._writable = self._read_only(exc), False
        self._thread_lock = threading.RLock()
        self._owner: int | None = None
        self._depth = 0
        self._unit: Unit | None = None
        self._cache: dict[str, tuple[tuple[int, int, int], Any]] = {}
        self._commits = -1  # the commit count this process last saw
        self._replayed = False

    def _read_only(self, problem: OSError) -> int:
        """A descriptor to lock a directory that cannot be written (or has no journal yet):
        its journal, or itself."""
        for target in (self._path, self.root):
            try:
                fd = os.open(target, os.O_RDONLY)
            except OSError:
                continue
            self._locks_root = target == self.root
            return fd
        if self.read_only:
            raise StoreUnavailable(
                f"the data directory cannot be read ({problem.strerror})"
            ) from problem
        raise StoreUnavailable(describe_os_error(problem)) from problem

    def _follow_journal(self) -> None:
        """A reader that found no journal locks the directory; once a writer has made the
        journal, the journal's lock is the one that keeps them apart."""
        for flags, writable in ((os.O_RDWR, True), (os.O_RDONLY, False)):
            try:
                fd = os.open(self._path, flags)
            except OSError:
                continue
            os.close(self._fd)
            self._fd, self._writable, self._locks_root = fd, writable, False
            return

    def reopen_after_fork(self) -> None:
        """A forked child gets a descriptor of its own: a shared one would share the lock."""
        shared = self._fd
        try:
            read_only = OSError(errno.EROFS, "read-only")
            self._fd = (
                os.open(self._path, os.O_RDWR) if self._writable else self._read_only(read_only)
            )
        finally:
            os.close(shared)
        self._thread_lock = threading.RLock()
        self._owner, self._depth, self._unit = None, 0, None

    # transactions ----------------------------------------------------------------------------
    @contextmanager
    def transaction(self, *, explicit: bool = False) -> Iterator[Unit]:
        """Exclusive across threads and processes; nested use joins the outer transaction. Only
        an explicit one stages writes; its outermost block commits them when it ends without an
        exception if `keep()` was called in it, and discards them otherwise."""
        with self._thread_lock:
            if self._depth == 0:
                if self._locks_root:
                    self._follow_journal()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                try:
                    self._recover()
                except OSError as exc:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    raise StoreUnavailable(describe_os_error(exc)) from exc
                except BaseException:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    raise
                self._unit, self._owner = Unit(explicit=explicit), threading.get_ident()
            unit = self._unit
            assert unit is not None
            self._depth += 1
            try:
                yield unit
                if self._depth == 1 and not unit.empty() and (unit.keep or not unit.explicit):
                    self._commit(unit)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._unit, self._owner = None, None
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def keep(self) -> None:
        """Have the calling thread's transaction commit when it ends."""
        unit = self._staged()
        if unit is None:
            raise RuntimeError("keep() belongs inside a transaction")
        unit.keep = True

    @contextmanager
    def own_unit(self) -> Iterator[Unit]:
        """A store's own bookkeeping (the audit's verified mark) as a unit of work of its own,
        kept when its block ends without an exception; inside a caller's unit of work it is
        part of that one, which decides."""
        with self.transaction(explicit=True) as unit:
            yield unit
            if self._depth == 1:
                unit.keep = True

    def _staged(self) -> Unit | None:
        """The calling thread's transaction, if it holds one."""
        return self._unit if self._owner == threading.get_ident() else None

    # reading ---------------------------------------------------------------------------------
    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def read_json(self, path: Path) -> Any | None:
        """Parsed JSON as this transaction sees it; None if the file does not exist."""
        rel = self.rel(path)
        unit = self._staged()
        if unit is not None and rel in unit.writes:
            return unit.parsed.get(rel)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            self._cache.pop(rel, None)
            return None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(rel)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            value = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreCorrupted(f"{rel} is not valid JSON") from exc
        self._cache[rel] = (key, value)
        return value

    def exists(self, path: Path) -> bool:
        unit = self._staged()
        rel = self.rel(path)
        if unit is not None and rel in unit.writes:
            return unit.writes[rel] is not None
        return path.exists()

    def listdir(self, directory: Path) -> list[str]:
        """File names in `directory` as this transaction sees it."""
        try:
            names = set(os.listdir(directory))
        except FileNotFoundError:
            names = set()
        unit = self._staged()
        if unit is not None:
            prefix = self.rel(directory) + "/"
            for rel, text in unit.writes.items():
                if rel.startswith(prefix) and "/" not in rel[len(prefix) :]:
                    name = rel[len(prefix) :]
                    if text is None:
                        names.discard(name)
                    else:
                        names.add(name)
        return sorted(names)

    def appended(self, path: Path) -> list[str]:
        """Lines this transaction appends to `path` (not yet on disk)."""
        unit = self._staged()
        return list(unit.appends.get(self.rel(path), ())) if unit is not None else []

    # staging ---------------------------------------------------------------------------------
    def _unit_for_write(self) -> Unit:
        """The transaction a write is staged in: only an explicit one (a unit of work, or a
        store's own bookkeeping in `own_unit`); a write outside one is a programming error and
        writes nothing."""
        unit = self._staged()
        if unit is None or not unit.explicit:
            raise RuntimeError(WRITE_OUTSIDE_UNIT)
        return unit

    def write_json(self, path: Path, payload: Any) -> None:
        unit = self._unit_for_write()
        rel = self.rel(path)
        unit.writes[rel] = dumps_compact(payload) + "\n"
        unit.parsed[rel] = payload

    def delete(self, path: Path) -> None:
        unit = self._unit_for_write()
        rel = self.rel(path)
        unit.writes[rel] = None
        unit.parsed.pop(rel, None)

    def append_line(self, path: Path, line: str) -> None:
        if "\n" in line:
            raise ValueError("a log line may not contain a newline")
        self._unit_for_write().appends.setdefault(self.rel(path), []).append(line)

    def write_problem(self) -> str | None:
        """Why a change could not be kept now, or None: a probe file beside the data is written,
        synced and removed (outside the lock: it touches nothing a transaction reads)."""
        if not self._writable:
            return describe_os_error(OSError(errno.EROFS, os.strerror(errno.EROFS)))
        probe = self.root / f"{TEMP_PREFIX}probe-{os.getpid()}-{threading.get_ident()}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                if os.write(fd, PROBE) != len(PROBE):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            return describe_os_error(exc)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(probe)
        return None

    # committing ------------------------------------------------------------------------------
    def _commit(self, unit: Unit) -> None:
        if self.read_only:
            raise StoreUnavailable("the data directory was opened to read only")
        if not self._writable:
            raise StoreUnavailable(describe_os_error(OSError(errno.EROFS, "read-only")))
        start = os.fstat(self._fd).st_size
        appends = {
            rel: (append_offset(self.root / rel), "".join(f"{line}\n" for line in lines))
            for rel, lines in unit.appends.items()
        }
        record = {"writes": unit.writes, "appends": appends}
        framed = frame(record)
        temps: dict[str, Path] = {}
        try:
            for rel, text in unit.writes.items():
                if text is not None:
                    temps[rel] = self._temp_file(rel, text)
            if os.pwrite(self._fd, framed, start) != len(framed):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(self._fd)  # the commit point
        except OSError as exc:
            self._undone(exc, self._undo(temps, {}, start))
        done: dict[str, int] = {}
        try:
            for rel, (offset, text) in appends.items():
                done[rel] = offset
                _write_at(self.root / rel, offset, text)
        except OSError as exc:
            self._undone(exc, self._undo(temps, done, start))
        self._finish(unit, temps, start + len(framed))

    def _finish(self, unit: Unit, temps: dict[str, Path], end: int) -> None:
        """Put the committed change's files in place and mark the journal applied up to `end`.
        The change is committed already: a failure here is logged, not raised, and leaves the
        rest to the next lock holder's replay (which every reader runs first)."""
        for rel in unit.writes:
            self._cache.pop(rel, None)
        self._commits += 1
        try:
            for rel, text in unit.writes.items():
                if text is None:
                    _remove(self.root / rel)
                else:
                    os.replace(temps[rel], self.root / rel)
            os.pwrite(self._fd, Header(end, self._commits).encode(), 0)
        except OSError as exc:
            log.warning(
                "a committed change is put in place by the next writer: %s",
                describe_os_error(exc),
            )
            return
        if end > CHECKPOINT_BYTES:
            try:
                self._checkpoint()
            except OSError as exc:  # the change is applied; the next commit tries again
                log.warning("journal checkpoint failed: %s", describe_os_error(exc))

    def _temp_file(self, rel: str, text: str) -> Path:
        """The new content beside the data (renamed over its target once committed)."""
        os.makedirs((self.root / rel).parent, exist_ok=True)
        path = self.root / f"{TEMP_PREFIX}{rel.replace('/', '-')}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            data = text.encode("utf-8")
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        finally:
            os.close(fd)
        return path

    def _undo(self, temps: dict[str, Path], appended: dict[str, int], start: int) -> bool:
        """Take back a change whose commit failed; True if its journal record is surely gone
        (the rest only frees space: it is not part of any committed state)."""
        for path in temps.values():
            with contextlib.suppress(OSError):
                _remove(path)
        for rel, offset in appended.items():
            with contextlib.suppress(OSError):
                if offset:
                    os.truncate(self.root / rel, offset)
                else:
                    _remove(self.root / rel)  # it did not exist before (or held nothing)
        try:
            os.ftruncate(self._fd, start)
        except OSError:
            return False
        with contextlib.suppress(OSError):  # once cut, no reader of this boot replays it;
            os.fsync(self._fd)  # the next commit's fsync makes the cut durable too
        return True

    @staticmethod
    def _undone(problem: OSError, surely: bool) -> NoReturn:
        if surely:
            raise StoreUnavailable(describe_os_error(problem)) from problem
        raise StoreUnavailable(
            f"{describe_os_error(problem)}; the change may still be completed once the data "
            "directory can be written again",
            kept=True,
        ) from problem

    # recovery --------------------------------------------------------------------------------
    def _recover(self) -> None:
        """Apply what a crashed writer committed but did not finish, and drop a torn last
        record. The "applied up to" mark is trusted only within the boot that wrote it: after a
        restart of the machine, writes it covered may not have reached the disk, so every record
        since the last checkpoint is applied again (with no boot id to compare, once per
        process). Nothing is applied from a damaged journal (a record that is not whole and
        verified, with whole records after it; a journal shorter than what was applied from it):
        applying the records before the damage would put older states over newer files. The
        first look of a process checks the whole journal, so damage is found when it is not yet
        needed. Another process's commit since this one last looked empties the read cache."""
        size = os.fstat(self._fd).st_size if self._writable else self._journal_size()
        if size < HEADER_SIZE:
            if self._writable and not self.read_only:
                os.pwrite(self._fd, Header(HEADER_SIZE, 0).encode(), 0)
                os.ftruncate(self._fd, HEADER_SIZE)
                os.fsync(self._fd)
            self._cache.clear()
            self._commits = 0
            return
        head = Header.decode(self._read_journal(0, HEADER_SIZE))
        if head.commits != self._commits:
            self._cache.clear()
            self._commits = head.commits
        if head.applied > size:
            raise self._damaged(size, "shorter than what was applied from it")
        trusted = head.boot == journal.BOOT and (journal.BOOT != b"unknown" or self._replayed)
        begin = head.applied if trusted else HEADER_SIZE
        first = not self._replayed
        if begin >= size and not first:
            return
        start = HEADER_SIZE if first else begin
        data = self._read_journal(start, size - start)
        records, damaged = scan(data)
        end = size
        if damaged is not None:
            if start + damaged < max(begin, head.applied) or not torn_tail(data, damaged):
                raise self._damaged(start + damaged, "a record is not whole")
            end = start + damaged
        self._replayed = True
        pending = [record for at, record in records if start + at >= begin]
        if pending or end < size:
            self._replay(head, begin, pending, end)

    def _replay(self, head: Header, begin: int, pending: list[dict[str, Any]], end: int) -> None:
        """Apply the whole records from `begin` on, and cut the journal at `end` (a torn last
        record goes)."""
        if not self._writable:
            raise StoreUnavailable(
                "the data directory cannot be written and holds a change left unfinished"
            )
        if begin < head.applied:
            os.pwrite(self._fd, Header(begin, head.commits).encode(), 0)  # replay starts over
        for record in pending:
            self._apply(record)
        os.ftruncate(self._fd, end)
        for name in os.listdir(self.root):
            if name.startswith(TEMP_PREFIX):
                _remove(self.root / name)
        self._commits = head.commits + 1  # files were rewritten: every reader's cache is stale
        os.pwrite(self._fd, Header(end, self._commits).encode(), 0)
        os.fsync(self._fd)
        self._cache.clear()

    def _damaged(self, at: int, what: str) -> StoreCorrupted:
        message = f"{JOURNAL_FILE} is damaged at byte {at} ({what}): {RECOVER_HINT}"
        log.error("%s; nothing was applied from it", message)
        return StoreCorrupted(message)

    def damage(self) -> str | None:
        """What is damaged in the journal, in one line, or None if it is whole."""
        try:
            with self.transaction():
                return None
        except StoreCorrupted as exc:
            return exc.message.removesuffix(f": {RECOVER_HINT}")

    def set_aside(self, stamp: str) -> Path:
        """`gobot recover`: keep a copy of the journal beside it (named with `stamp`), make the
        data files durable as they are, and start an empty journal; the copy's path."""
        with self._thread_lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                copy = self.root / f"{JOURNAL_FILE}.damaged-{stamp}"
                with open(copy, "wb") as kept:
                    kept.write(self._read_journal(0, os.fstat(self._fd).st_size))
                    kept.flush()
                    os.fsync(kept.fileno())
                for directory, _, names in os.walk(self.root):
                    for name in [*names, "."]:
                        fd = os.open(os.path.join(directory, name), os.O_RDONLY)
                        try:
                            os.fsync(fd)
                        finally:
                            os.close(fd)
                try:
                    commits = Header.decode(self._read_journal(0, HEADER_SIZE)).commits + 1
                except StoreCorrupted:
                    commits = max(self._commits, 0) + 1
                os.pwrite(self._fd, Header(HEADER_SIZE, commits).encode(), 0)
                os.ftruncate(self._fd, HEADER_SIZE)
                os.fsync(self._fd)
                self._commits, self._replayed = commits, True
                self._cache.clear()
                return copy
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _journal_size(self) -> int:
        try:
            return self._path.stat().st_size
        except FileNotFoundError:
            return 0

    def _read_journal(self, begin: int, size: int) -> bytes:
        with open(self._path, "rb") as handle:
            handle.seek(begin)
            return handle.read(size)

    def _apply(self, record: dict[str, Any]) -> None:
        for rel, (offset, text) in record["appends"].items():
            os.makedirs((self.root / rel).parent, exist_ok=True)
            _write_at(self.root / rel, offset, text)
        for rel, text in record["writes"].items():
            target = self.root / rel
            if text is None:
                _remove(target)
            else:
                os.replace(self._temp_file(rel, text), target)

    def _checkpoint(self) -> None:
        """Make every file the journal names durable, then empty the journal."""
        size = os.fstat(self._fd).st_size
        touched: set[str] = set()
        records, _ = scan(self._read_journal(HEADER_SIZE, size - HEADER_SIZE))
        for _, record in records:
            touched.update(record["writes"], record["appends"])
        directories = {self.root}
        for rel in touched:
            path = self.root / rel
            directories.add(path.parent)
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        for directory in directories:
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.pwrite(self._fd, Header(HEADER_SIZE, self._commits).encode(), 0)  # a crash: replay all
        os.ftruncate(self._fd, HEADER_SIZE)
        os.fsync(self._fd)


_dirs: dict[Path, DataDir] = {}
_dirs_guard = threading.Lock()


def data_dir(directory: Path, read_only: bool | None = None) -> DataDir:
    """The data directory object of `directory`: one per directory per process. `read_only`:
    True opens it to read only unless it is open already; False opens it to write (replacing
    one opened to read only); None takes it as it is open (else opens it to write)."""
    key = directory.resolve()
    with _dirs_guard:
        found = _dirs.get(key)
        if found is None or (read_only is False and found.read_only):
            found = _dirs[key] = DataDir(key, read_only=bool(read_only))
        return found


def _after_fork_in_child() -> None:
    for key, directory in list(_dirs.items()):
        try:
            directory.reopen_after_fork()
        except (OSError, StoreUnavailable):  # gone: forget it rather than share its lock
            del _dirs[key]


os.register_at_fork(after_in_child=_after_fork_in_child)
