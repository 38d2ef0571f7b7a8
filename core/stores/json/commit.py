"""Committing a change to the data directory, as `datadir`'s opening docstring sets out: the
temp files of what outgrows its space, the journal record and its data sync (the commit point),
then the appends and new files (undone on a failure), then the files overwritten, renamed and
removed, and the journal's "applied up to" mark. `Committing` is part of `datadir.DataDir`,
which holds the lock while it runs.

A file a change removes is kept as a spare (`.gobot-spare-*`, up to `MAX_SPARES` a process),
and the next file a change makes is a spare renamed into place and overwritten: making a file
and writing it (a new inode and its blocks) took 65-280 µs on the disk measured, reusing a
spare ~22 µs, and each GO session makes one (its outbox queue). A spare that cannot be renamed
there (another file system) is not used. A spare is part of no state: a replay makes and
removes files as usual."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from core.errors import StoreUnavailable
from core.stores.json.files import (
    TEMP_PREFIX,
    CacheKey,
    cache_key,
    describe_os_error,
    put,
    remove,
    sync_data,
    write_at,
)
from core.stores.json.journal import CHECKPOINT_BYTES, Header, frame
from core.stores.json.lines import append_offset
from core.stores.json.recovery import Recovery

log = logging.getLogger("gobot.store")
SPARE_PREFIX = ".gobot-spare-"
MAX_SPARES = 16


def spares_in(root: Path) -> list[str]:
    """The spare files a data directory holds (none if it cannot be listed)."""
    try:
        return [name for name in os.listdir(root) if name.startswith(SPARE_PREFIX)]
    except OSError:
        return []


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

    def due(self) -> bool:
        """Whether its transaction's end commits it: it staged something, and is kept (or
        not explicit)."""
        return bool(self.writes or self.appends) and (self.keep or not self.explicit)


@dataclass
class _Placing:
    """How a committed change's whole-file writes reach their files: created (none was there),
    overwritten in place (the new content fits the space the file holds) or renamed from a temp
    file written before the commit point."""

    created: dict[str, bytes] = field(default_factory=dict)
    overwritten: dict[str, bytes] = field(default_factory=dict)
    temps: dict[str, Path] = field(default_factory=dict)
    written: dict[str, CacheKey] = field(default_factory=dict)  # each file's key as written


class Committing(Recovery):
    """Writing a staged change all or nothing."""

    _spares: list[str]  # names of the spare files, in the data directory itself
    _spare_numbers: Iterator[int]

    def _commit(self, unit: Unit) -> None:
        if self.read_only:
            raise StoreUnavailable("the data directory was opened to read only")
        if not self._writable:
            raise StoreUnavailable(describe_os_error(OSError(errno.EROFS, "read-only")))
        start = self._records_end
        appends = {
            rel: (self._end_of(rel), "".join(f"{line}\n" for line in lines))
            for rel, lines in unit.appends.items()
        }
        framed = frame({"writes": unit.writes, "appends": appends})
        placing = _Placing()
        try:
            self._place(unit, placing)
            if os.pwrite(self._fd, framed, start) != len(framed):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            sync_data(self._fd)  # the commit point (over zeros the journal holds: no metadata)
        except OSError as exc:
            self._undone(exc, self._undo(placing.temps, {}, [], start))
        self._records_end = start + len(framed)
        done: dict[str, int] = {}
        created: list[str] = []
        try:
            for rel, (offset, text) in appends.items():
                done[rel] = offset
                placing.written[rel] = write_at(self.file(rel), offset, text)
            for rel, data in placing.created.items():
                created.append(rel)
                placing.written[rel] = self._create(rel, data)
        except OSError as exc:
            self._undone(exc, self._undo(placing.temps, done, created, start))
        self._finish(unit, placing, appends, self._records_end)

    def _place(self, unit: Unit, placing: _Placing) -> None:
        """Sort the change's file writes (see `_Placing`); write the temp files."""
        for rel, text in unit.writes.items():
            if text is None:
                continue
            data = text.encode("utf-8")
            try:
                held = os.stat(self.file(rel)).st_blocks * 512
            except FileNotFoundError:
                if not os.path.isdir(parent := os.path.dirname(self.file(rel))):
                    os.makedirs(parent, exist_ok=True)
                placing.created[rel] = data
                continue
            if len(data) <= held:
                placing.overwritten[rel] = data
            else:
                placing.temps[rel] = self._temp_file(rel, data)

    def _finish(
        self, unit: Unit, placing: _Placing, appends: dict[str, tuple[int, str]], end: int
    ) -> None:
        """Put the committed change's files in place and mark the journal applied up to `end`.
        The change is committed already: a failure here is logged, not raised, and leaves the
        rest to the next lock holder's replay (which every reader runs first)."""
        for rel in unit.writes:
            self._cache.pop(rel, None)
        for rel in unit.appends:
            self._tails.pop(rel, None)
        self._commits += 1
        try:
            for rel, data in placing.overwritten.items():
                placing.written[rel] = put(self.file(rel), data)
            for rel, temp in placing.temps.items():
                os.replace(temp, self.file(rel))
            for rel, text in unit.writes.items():
                if text is None:
                    self._retire(rel)
            os.pwrite(self._fd, Header(end, self._commits).encode(), 0)
        except OSError as exc:
            log.warning(
                "a committed change is put in place by the next writer: %s",
                describe_os_error(exc),
            )
            return
        self._remember(unit, appends, placing.written)
        if end > CHECKPOINT_BYTES:
            try:
                self._checkpoint()
            except OSError as exc:  # the change is applied; the next commit tries again
                log.warning("journal checkpoint failed: %s", describe_os_error(exc))

    def _remember(
        self, unit: Unit, appends: dict[str, tuple[int, str]], written: dict[str, CacheKey]
    ) -> None:
        """Cache what a change wrote as it is now on disk (`written`: the files' keys as they
        were written; a file renamed into place is looked at): the next read parses nothing,
        and the next append to a line file it appended to needs not read the file's end."""
        for rel, text in unit.writes.items():
            if text is not None:
                with contextlib.suppress(OSError):
                    key = written.get(rel) or cache_key(os.stat(self.file(rel)))
                    self._cache[rel] = (key, unit.parsed[rel])
        for rel, (offset, text) in appends.items():
            end = offset + len(text.encode("utf-8"))
            self._tails[rel] = (written[rel], end, unit.appends[rel][-1])

    def _create(self, rel: str, data: bytes) -> CacheKey:
        """Make the file `rel` (it does not exist) hold `data`: a spare renamed into place if
        one is left (another process may have taken it), else a new file; its key as
        written."""
        target = self.file(rel)
        while self._spares:
            with contextlib.suppress(OSError):  # taken, or not on the target's file system
                os.rename(self.file(self._spares.pop()), target)
                break
        return put(target, data)

    def _retire(self, rel: str) -> None:
        """Remove the file `rel`: kept as a spare while there are fewer than `MAX_SPARES`, else
        deleted. A spare keeps its blocks (and its bytes, which nothing reads) until it is
        reused: freeing and allocating blocks costs as much as making the file."""
        if len(self._spares) >= MAX_SPARES:
            remove(self.file(rel))
            return
        spare = f"{SPARE_PREFIX}{os.getpid()}-{next(self._spare_numbers)}"
        try:
            os.rename(self.file(rel), self.file(spare))
        except FileNotFoundError:
            return
        except OSError:  # e.g. a folder on another file system than the data directory's root
            remove(self.file(rel))
            return
        self._spares.append(spare)

    def _end_of(self, rel: str) -> int:
        """Where the next line of a line file goes (`lines.append_offset`), known without
        reading the file if this process appended last and the file is as it left it."""
        tail = self._tails.get(rel)
        if tail is not None:
            with contextlib.suppress(OSError):
                if cache_key(os.stat(self.file(rel))) == tail[0]:
                    return tail[1]
        return append_offset(Path(self.file(rel)))

    def _temp_file(self, rel: str, data: bytes) -> Path:
        """The new content beside the data (renamed over its target once committed)."""
        os.makedirs(Path(self.file(rel)).parent, exist_ok=True)
        path = self.root / f"{TEMP_PREFIX}{rel.replace('/', '-')}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        finally:
            os.close(fd)
        return path

    def _undo(
        self, temps: dict[str, Path], appended: dict[str, int], created: list[str], start: int
    ) -> bool:
        """Take back a change whose commit failed; True if its journal record is surely gone.
        A line appended or a file created that cannot be taken back keeps the record, for the
        next lock holder's replay to complete the change (temp files are part of no state:
        one left over only takes space)."""
        for path in temps.values():
            with contextlib.suppress(OSError):
                remove(path)
        try:
            for rel in created:
                remove(self.file(rel))
            for rel, offset in appended.items():
                if offset:
                    os.truncate(self.file(rel), offset)
                else:
                    remove(self.file(rel))  # it did not exist before (or held nothing)
            os.ftruncate(self._fd, start)  # the zeros kept ahead go too, till the next checkpoint
            self._records_end = start
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
