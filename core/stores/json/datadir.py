"""The JSON store's unit of work: one data directory, one lock, one write-ahead journal.

Every change to the data directory is staged in memory while its transaction runs (reads see
what the transaction staged), then committed all at once:

1. every file that grows past the space it holds on disk gets its new content in a temp file
   in the data directory;
2. one journal record holding the whole change (each file's new content, each line appended
   with the offset it goes at, each file deleted) is written after the last one in
   `go_journal.wal`, over the zeros an emptied journal keeps ahead of its records, and synced
   (`fdatasync`): this is the commit point;
3. the appends are written at their offsets and the files that did not exist are created;
4. every other file is overwritten in place (within the space it holds, so a full disk cannot
   fail it where files are overwritten in place, as on ext4 or XFS) or has its temp file renamed
   over it, and the deletions are made;
5. the journal header's "applied up to" mark is moved past the record.

A failure before the commit point, or in step 3, undoes what was done and raises
`StoreUnavailable` with nothing changed (if it cannot be undone, the record stays and the change
is completed by the next lock holder's replay). A failure after step 3 is only logged: the
change is committed, and the next lock holder's replay puts it in place. A crash at any point
leaves either no record (nothing happened) or a whole record, which the next lock holder applies
again (every step is idempotent: a file is set to a content, a line is written at a fixed
offset). A process that opens the directory first replays every record since the last
checkpoint, since the files it names may not have reached the disk. Once the journal grows past
`CHECKPOINT_BYTES` every file it names is fsynced and the journal emptied (cut, then zeros
written ahead: no record from before the checkpoint outlives it). Readers hold the
same lock, and replay what is not yet applied before they read, so no reader ever sees half a
change, nor a file half overwritten by a writer that crashed. The commit is `commit.Committing`
and the replay and checkpoint `recovery.Recovery`, both parts of `DataDir`.

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
import itertools
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from core.errors import StoreCorrupted, StoreUnavailable
from core.stores.json.commit import Committing, Unit, spares_in
from core.stores.json.files import TEMP_PREFIX, CacheKey, cache_key, describe_os_error
from core.stores.json.journal import (
    JOURNAL_FILE,
    RECOVER_HINT,
    dumps_compact,
)
from core.stores.unit import WRITE_OUTSIDE_UNIT

log = logging.getLogger("gobot.store")
PROBE = b"gobot can write here\n"


class DataDir(Committing):
    """A data directory: one per directory per process (`data_dir()`). One that cannot be
    written (a read-only copy) can still be read, if no change is left to finish; one opened
    `read_only` creates no file and commits no change."""

    def __init__(self, root: Path, *, read_only: bool = False) -> None:
        self.root = root
        self._root_text = os.fspath(root)
        self.read_only = read_only
        self._prefix = os.path.join(root, "")
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
        self._cache: dict[str, tuple[CacheKey, Any]] = {}
        self._tails: dict[str, tuple[CacheKey, int, str]] = {}  # line files' ends
        self._commits = -1  # the commit count this process last saw
        self._replayed = False
        self._spares = spares_in(root) if self._writable and not read_only else []
        self._spare_numbers = itertools.count()

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
    def transaction(self, *, explicit: bool = False) -> _Transaction:
        """Exclusive across threads and processes; nested use joins the outer transaction. Only
        an explicit one stages writes; its outermost block commits them when it ends without an
        exception if `keep()` was called in it, and discards them otherwise."""
        return _Transaction(self, explicit)

    def _enter(self, explicit: bool) -> Unit:
        """Begin a transaction block (see `transaction`): the outermost takes the locks and
        recovers the journal."""
        self._thread_lock.acquire()
        if self._depth == 0:
            try:
                self._lock_and_recover()
            except BaseException:
                self._thread_lock.release()
                raise
            self._unit, self._owner = Unit(explicit=explicit), threading.get_ident()
        unit = self._unit
        assert unit is not None
        self._depth += 1
        return unit

    def _lock_and_recover(self) -> None:
        if self._locks_root:
            self._follow_journal()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            self._recover()
        except BaseException as exc:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            if isinstance(exc, OSError):
                raise StoreUnavailable(describe_os_error(exc)) from exc
            raise

    def _exit(self, failed: bool) -> None:
        """End a transaction block: the outermost commits what it staged (unless `failed`, or
        it is explicit and was not kept) and lets go of the locks."""
        try:
            unit = self._unit
            if not failed and self._depth == 1 and unit is not None and unit.due():
                self._commit(unit)
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._unit, self._owner = None, None
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._thread_lock.release()

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
        """`path` relative to the data directory (a string cut: `relative_to` costs more on
        a path a transaction reads a few dozen times)."""
        text = os.fspath(path)
        if not text.startswith(self._prefix):
            raise ValueError(f"{text!r} is not in the data directory")
        return text[len(self._prefix) :]

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
        key = cache_key(stat)
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

    def last_line(self, path: Path) -> str | None:
        """The last line of a line file, if this process appended it last and the file is as
        it left it; else None (read the file)."""
        rel = self.rel(path)
        tail = self._tails.get(rel)
        try:
            if tail is not None and cache_key(os.stat(path)) == tail[0]:
                return tail[2]
        except OSError:
            pass
        return None

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

    # recovery --------------------------------------------------------------------------------
    def damage(self) -> str | None:
        """What is damaged in the journal, in one line, or None if it is whole."""
        try:
            with self.transaction():
                return None
        except StoreCorrupted as exc:
            return exc.message.removesuffix(f": {RECOVER_HINT}")


class _Transaction:
    """One block of `DataDir.transaction` (a class, not a generator: a change enters a few
    dozen, nested)."""

    __slots__ = ("_directory", "_explicit")

    def __init__(self, directory: DataDir, explicit: bool) -> None:
        self._directory, self._explicit = directory, explicit

    def __enter__(self) -> Unit:
        return self._directory._enter(self._explicit)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._directory._exit(failed=kind is not None)


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
