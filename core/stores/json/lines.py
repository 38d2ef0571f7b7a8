"""Line files (history, audit log): read from the end without reading them whole, and where
the next line goes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_BLOCK = 65536


def iter_lines_reversed(path: Path) -> Iterator[tuple[str, bool]]:
    """Yield `(line, complete)` from the end of a file backwards.

    Only the last line can be incomplete (no trailing newline): a torn write.
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


def _end_of_last_full_line(handle: BinaryIO, size: int) -> int:
    """Offset just past the last newline before `size` (0 if there is none)."""
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


def append_offset(path: Path) -> int:
    """Where the next line goes: the end, or the end of the last full line if a crash tore the
    last one (the torn fragment is overwritten)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return 0
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return size
            return _end_of_last_full_line(handle, size)
    except FileNotFoundError:
        return 0
