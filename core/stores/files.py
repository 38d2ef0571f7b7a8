"""Durable file primitives shared by the JSON stores.

Every write is atomic (temp file, fsync, rename, fsync dir) or a durable append, and every
read-modify-write happens under the data directory's one lock, which serializes threads and
processes alike (flock on one lock file per directory, one lock object per directory and
process, so nested use from one thread re-enters instead of deadlocking).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from filelock import FileLock

_BLOCK = 65536
_locks: dict[Path, FileLock] = {}
_locks_guard = threading.Lock()


def data_dir_lock(directory: Path) -> FileLock:
    """The lock of a data directory: one per directory per process, re-entrant per thread."""
    key = directory.resolve()
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            key.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(key / ".gobot.lock"))
            _locks[key] = lock
        return lock


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
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
    fsync_dir(path.parent)


def write_json_atomic(path: Path, payload: Any) -> None:
    write_atomic(path, json.dumps(payload, ensure_ascii=False, indent=2) + "\n")


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
