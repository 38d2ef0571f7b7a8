"""The JSON store's recovery: what every lock holder does before it reads or writes (finish
what a crashed writer committed, cut a torn last record, refuse a damaged journal), the
checkpoint that empties the journal once its files are durable, and `gobot recover`'s setting
aside of a damaged journal. `Recovery` is part of `datadir.DataDir`, which holds the lock."""

from __future__ import annotations

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
    HEADER_SIZE,
    JOURNAL_FILE,
    RECOVER_HINT,
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
        if size < HEADER_SIZE:
            if self._writable and not self.read_only:
                os.pwrite(self._fd, Header(HEADER_SIZE, 0).encode(), 0)
                os.ftruncate(self._fd, HEADER_SIZE)
                os.fsync(self._fd)
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
                os.pwrite(self._fd, Header(HEADER_SIZE, commits).encode(), 0)
                os.ftruncate(self._fd, HEADER_SIZE)
                os.fsync(self._fd)
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

    def _forget(self) -> None:
        """Empty the read cache: files were changed by another process, or by a replay."""
        self._cache.clear()
        self._tails.clear()
