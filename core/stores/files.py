"""Durable file primitives shared by the JSON stores.

Every write is atomic (temp file, fsync, rename, fsync dir) or a durable append, and every
read-modify-write happens under the data directory's one lock (`DataDirLock`).
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

_BLOCK = 65536
_locks: dict[Path, DataDirLock] = {}
_locks_guard = threading.Lock()


class DataDirLock:
    """Re-entrant across nested use in one thread; exclusive across threads and processes.

    An `RLock` orders the threads of this process; `flock` on one descriptor, opened once per
    directory and process, orders processes. The flock is taken on the outermost entry only,
    so nested store calls inside a transaction cost next to nothing. (A library lock reopened
    its lock file on every acquire: a measurable share of a start+end cycle.)
    """

    def __init__(self, path: Path) -> None:
        self._thread_lock = threading.RLock()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self._depth = 0

    def __enter__(self) -> DataDirLock:
        self._thread_lock.acquire()
        if self._depth == 0:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise
        self._depth += 1
        return self

    @property
    def depth(self) -> int:
        """How deeply the current holder has entered (meaningful only to the holder)."""
        return self._depth

    def __exit__(self, *exc_info: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()


def data_dir_lock(directory: Path) -> DataDirLock:
    """The lock of a data directory: one per directory per process."""
    key = directory.resolve()
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            key.mkdir(parents=True, exist_ok=True)
            lock = DataDirLock(key / ".gobot.lock")
            _locks[key] = lock
        return lock


class DescriptorCache:
    """Descriptors kept open for reuse, at most `size` (least recently used closed first), each
    used only under the cache's lock so an eviction never closes one in use."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._fds: OrderedDict[Path, int] = OrderedDict()
        self._lock = threading.Lock()

    def use(self, path: Path, opener: Callable[[Path], int], action: Callable[[int], None]) -> None:
        with self._lock:
            fd = self._fds.pop(path, None)
            if fd is None:
                fd = opener(path)
            self._fds[path] = fd
            while len(self._fds) > self._size:
                os.close(self._fds.popitem(last=False)[1])
            action(fd)

    def forget(self, path: Path) -> None:
        with self._lock:
            fd = self._fds.pop(path, None)
            if fd is not None:
                os.close(fd)


_dir_fds = DescriptorCache()


def fsync_dir(directory: Path) -> None:
    """Make renames and new files in `directory` durable (its descriptor is kept open)."""
    _dir_fds.use(directory, lambda path: os.open(path, os.O_RDONLY), os.fsync)


def write_atomic(path: Path, text: str, *, sync_dir: bool = True) -> None:
    """Replace `path` with `text` all at once. Without `sync_dir` the rename itself may be
    lost in a crash (the old content comes back): only for files where that is harmless."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def dumps_compact(payload: Any) -> str:
    """Compact JSON: the indented form goes through the pure-Python encoder, several times
    slower on a hot path."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def write_json_atomic(path: Path, payload: Any, *, sync_dir: bool = True) -> None:
    write_atomic(path, dumps_compact(payload) + "\n", sync_dir=sync_dir)


def read_json(path: Path) -> Any | None:
    """Parsed JSON, or None if the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return json.loads(text)


def append_line(path: Path, line: str) -> None:
    """Durably append one line. A torn fragment left by a crash mid-append is cut off first."""
    if "\n" in line:
        raise ValueError("a log line may not contain a newline")
    created = not path.exists()
    with open(path, "a+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                handle.truncate(_end_of_last_full_line(handle, size))
                handle.seek(0, os.SEEK_END)
        handle.write(line.encode("utf-8") + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    if created:
        fsync_dir(path.parent)


def _end_of_last_full_line(handle: BinaryIO, size: int) -> int:
    position = size
    while position > 0:
        start = max(0, position - _BLOCK)
        handle.seek(start)
        chunk = handle.read(position - start)
        index = chunk.rfind(b"\n")
        if index >= 0:
            return start + index + 1
        position = start
    return 0


def iter_lines_reversed(path: Path) -> Iterator[tuple[str, bool]]:
    """Yield `(line, complete)` from the end of a file backwards without reading it whole.

    Only the last line can be incomplete (no trailing newline): a torn append.
    """
    if not path.exists():
        return
    with open(path, "rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        buffer = b""
        first = True
        while position > 0:
            start = max(0, position - _BLOCK)
            handle.seek(start)
            buffer = handle.read(position - start) + buffer
            position = start
            parts = buffer.split(b"\n")
            buffer = parts[0]
            for index in range(len(parts) - 1, 0, -1):
                if first:
                    first = False
                    if parts[index]:
                        yield parts[index].decode("utf-8", errors="replace"), False
                    continue
                yield parts[index].decode("utf-8", errors="replace"), True
        if buffer:
            yield buffer.decode("utf-8", errors="replace"), not first
