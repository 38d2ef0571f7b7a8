"""The JSON store's recovery: what every lock holder does before it reads or writes (finish
what a crashed writer committed, cut a torn last record, refuse a damaged journal), the
checkpoint that empties the journal once its files are durable, and `gobot recover`'s setting
aside of a damaged journal. `Recovery` is part of `datadir.DataDir`, which holds the lock."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import Any

from core.errors import StoreCorrupted, StoreUnavailable
from core.stores.json import journal
from core.stores.json.files import TEMP_PREFIX, CacheKey, put, remove, write_at
from core.stores.json.journal import (
    FRAME_PREFIX,
    HEADER_SIZE,
    JOURNAL_FILE,
    RECOVER_HINT,
    ZEROS_AHEAD,
    Header,
    scan,
    torn_tail,
)

log = logging.getLogger("gobot.store")


class Recovery:
    """The journal's recovery, for a data directory that holds the lock while it runs."""

    root: Path
    _root_text: str
    read_only: bool
    _path: Path
    _fd: int
    _writable: bool
    _locks_root: bool
    _thread_lock: threading.RLock
    _cache: dict[str, tuple[CacheKey, Any]]
    _tails: dict[str, tuple[CacheKey, int, str]]
    _commits: int
    _replayed: bool
    _records_end: int  # where the journal's records end (zeros or its end follow)

    def file(self, rel: str) -> str:
        """The path of a file of the data directory (as text: a hot path joins no Path)."""
        return os.path.join(self._root_text, rel)

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
        self._records_end = HEADER_SIZE
        if size < HEADER_SIZE:
            if self._writable and not self.read_only:
                self._fresh_journal(0)
            self._forget()
            self._commits = 0
            return
        head = Header.decode(self._read_journal(0, HEADER_SIZE))
        if head.commits != self._commits:
            self._forget()
            self._commits = head.commits
        if head.applied > size:
            raise self._damaged(size, "shorter than what was applied from it")
        trusted = head.boot == journal.BOOT and (journal.BOOT != b"unknown" or self._replayed)
        begin = head.applied if trusted else HEADER_SIZE
        first = not self._replayed
        if not first and not self._read_journal(begin, FRAME_PREFIX).strip(b"\0"):
            self._records_end = begin  # nothing after what was applied: the usual look
            return
        start = HEADER_SIZE if first else begin
        data = self._read_journal(start, size - start)
        records, damaged = scan(data)
        end = torn = start + len(data)
        if damaged is not None:
            end, torn = start + damaged, start + len(data.rstrip(b"\0"))
            if end < max(begin, head.applied) or (torn > end and not torn_tail(data, damaged)):
                raise self._damaged(end, "a record is not whole")
        self._replayed = True
        pending = [record for at, record in records if start + at >= begin]
        if pending or torn > end:
            self._replay(head, begin, pending, end, cut=torn > end)
        self._records_end = end

    def _replay(
        self, head: Header, begin: int, pending: list[dict[str, Any]], end: int, *, cut: bool
    ) -> None:
        """Apply the whole records from `begin` on, and (`cut`) cut the journal at `end`: a torn
        last record goes, and with it the zeros kept ahead (the next checkpoint puts them
        back)."""
        if not self._writable:
            raise StoreUnavailable(
                "the data directory cannot be written and holds a change left unfinished"
            )
        if begin < head.applied:
            os.pwrite(self._fd, Header(begin, head.commits).encode(), 0)  # replay starts over
        for record in pending:
            self._apply(record)
        if cut:
            os.ftruncate(self._fd, end)
        for name in os.listdir(self.root):
            if name.startswith(TEMP_PREFIX):
                remove(self.file(name))
        self._commits = head.commits + 1  # files were rewritten: every reader's cache is stale
        os.pwrite(self._fd, Header(end, self._commits).encode(), 0)
        os.fsync(self._fd)
        self._forget()

    def _damaged(self, at: int, what: str) -> StoreCorrupted:
        message = f"{JOURNAL_FILE} is damaged at byte {at} ({what}): {RECOVER_HINT}"
        log.error("%s; nothing was applied from it", message)
        return StoreCorrupted(message)

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
                self._fresh_journal(commits)
                self._commits, self._replayed = commits, True
                self._forget()
                return copy
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _journal_size(self) -> int:
        try:
            return self._path.stat().st_size
        except FileNotFoundError:
            return 0

    def _read_journal(self, begin: int, size: int) -> bytes:
        if not self._locks_root:  # the descriptor held is the journal's
            return os.pread(self._fd, size, begin)
        with open(self._path, "rb") as handle:
            handle.seek(begin)
            return handle.read(size)

    def _apply(self, record: dict[str, Any]) -> None:
        for rel, (offset, text) in record["appends"].items():
            os.makedirs((self.root / rel).parent, exist_ok=True)
            write_at(self.root / rel, offset, text)
        for rel, text in record["writes"].items():
            target = self.root / rel
            if text is None:
                remove(target)
            else:
                os.makedirs(target.parent, exist_ok=True)
                put(target, text.encode("utf-8"))

    def _checkpoint(self) -> None:
        """Make every file the journal names durable, then empty the journal."""
        touched: set[str] = set()
        records, _ = scan(self._read_journal(HEADER_SIZE, self._records_end - HEADER_SIZE))
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
        self._fresh_journal(self._commits)

    def _fresh_journal(self, commits: int) -> None:
        """An empty journal: its header, then `ZEROS_AHEAD` zero bytes where the next records go,
        so that a commit overwrites blocks the journal holds already and its sync has no block
        to allocate (half the cost here). Without the space for them it goes on without: the
        records are appended, as they were. Records from before never outlive this: the journal
        is cut first. A crash before the sync may leave the old records whole, which replay to
        the state the files hold."""
        os.pwrite(self._fd, Header(HEADER_SIZE, commits).encode(), 0)  # a crash: replay all
        os.fsync(self._fd)  # before the cut: a header that outlived it would point past the end
        os.ftruncate(self._fd, HEADER_SIZE)
        with contextlib.suppress(OSError):
            os.pwrite(self._fd, bytes(ZEROS_AHEAD), HEADER_SIZE)
        os.fsync(self._fd)
        self._records_end = HEADER_SIZE

    def _forget(self) -> None:
        """Empty the read cache: files were changed by another process, or by a replay."""
        self._cache.clear()
        self._tails.clear()
