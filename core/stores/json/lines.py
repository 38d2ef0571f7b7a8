"""Line files (history, audit log): read from the end without reading them whole, find where
the lines of a time begin by binary search (lines are appended in time order), read a stretch
of lines forward, find a line by its contents, and where the next line goes."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from core.clock import parse_utc

_BLOCK = 65536
# How far out of time order two processes' lines may be appended (each reads its clock before
# it takes the lock): a search by time looks this much further.
ORDER_SLACK = timedelta(minutes=10)


def iter_lines_reversed(
    path: Path, start: int = 0, end: int | None = None, block: int = _BLOCK
) -> Iterator[tuple[str, bool]]:
    """Yield `(line, complete)` from the end of a file backwards; only the lines from offset
    `start` to offset `end` (both line starts; None: the end of the file), read `block` bytes
    at a time (small, to read only the last line or two).

    Only the file's last line can be incomplete (no trailing newline): a torn write.
    """
    if not path.exists():
        return
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        position = size if end is None else min(end, size)
        buffer = b""
        first = True
        while position > start:
            begin = max(start, position - block)
            handle.seek(begin)
            buffer = handle.read(position - begin) + buffer
            position = begin
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


def _line_at(handle: BinaryIO, offset: int, size: int) -> bytes:
    """The line that starts at `offset`, with its newline (without one if torn)."""
    handle.seek(offset)
    found = b""
    while offset + len(found) < size:
        chunk = handle.read(min(_BLOCK, size - offset - len(found)))
        cut = chunk.find(b"\n")
        if cut >= 0:
            return found + chunk[: cut + 1]
        found += chunk
    return found


def _next_line_start(handle: BinaryIO, offset: int, size: int) -> int:
    """The first line start at `offset` or after it."""
    if offset == 0:
        return 0
    return min(size, offset - 1 + len(_line_at(handle, offset - 1, size)))


def seek_time(path: Path, at: datetime, time_of: re.Pattern[bytes]) -> int:
    """Where the lines of time `at` or later begin, in a file appended in time order:
    a binary search on each line's time (`time_of`'s first group). A line without a time
    counts as earlier."""
    if not path.exists():
        return 0
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        low, high = 0, size
        while low < high:
            middle = (low + high) // 2
            start = _next_line_start(handle, middle, size)
            line = _line_at(handle, start, size) if start < size else b""
            if not line.endswith(b"\n"):
                high = middle
                continue
            found = time_of.search(line)
            if found is None or parse_utc(found.group(1).decode()) < at:
                low = start + len(line)
            else:
                high = middle
        return _next_line_start(handle, low, size)


def iter_lines_forward(path: Path, start: int, end: int | None = None) -> Iterator[bytes]:
    """Complete lines (without their newline) from offset `start` (a line start) to `end`."""
    if not path.exists():
        return
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        stop = size if end is None else min(end, size)
        handle.seek(start)
        position, rest = start, b""
        while position < stop:
            chunk = handle.read(min(_BLOCK, stop - position))
            if not chunk:
                break
            position += len(chunk)
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            yield from lines


def find_line(path: Path, needle: bytes, start: int = 0) -> Iterator[bytes]:
    """Complete lines holding `needle`, from offset `start` (a line start) on, read in blocks
    (a needle in no line costs one pass over the file, never the file in memory)."""
    if not path.exists():
        return
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        position = start
        carry = b""  # the unfinished line before `position`
        while position < size:
            handle.seek(position)
            chunk = carry + handle.read(min(_BLOCK * 16, size - position))
            position += len(chunk) - len(carry)
            last_newline = chunk.rfind(b"\n")
            if last_newline < 0:
                carry = chunk
                continue
            whole, carry = chunk[: last_newline + 1], chunk[last_newline + 1 :]
            at = whole.find(needle)
            while at >= 0:
                begin = whole.rfind(b"\n", 0, at) + 1
                finish = whole.index(b"\n", at)
                yield whole[begin:finish]
                at = whole.find(needle, finish)


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
