"""Reading line files (history, audit log) from the end without reading them whole."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

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
