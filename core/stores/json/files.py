"""Writing one file of the data directory so that doing it again leaves the same bytes: set to
a content in place, ended with a line at a fixed offset, removed; syncing a file's data; the
prefix of the temp files
a change writes beside the data; what tells a cached file from a changed one; and an OS error
in words an operator acts on. The data directory's commit and replay (`commit`, `recovery`)
write through these."""

from __future__ import annotations

import contextlib
import errno
import os

TEMP_PREFIX = ".gobot-tmp-"

_PROBLEMS = {
    errno.ENOSPC: "the data disk is full",
    errno.EDQUOT: "the data disk quota is used up",
    errno.EROFS: "the data directory is read-only",
    errno.EACCES: "gobot may not write to its data directory",
    errno.EPERM: "gobot may not write to its data directory",
    errno.EIO: "the data disk reported an I/O error",
}


StrPath = str | os.PathLike[str]  # a path as the os functions take it


def describe_os_error(exc: OSError) -> str:
    """What went wrong, in words an operator acts on (never a server path)."""
    return _PROBLEMS.get(
        exc.errno or 0, f"the data directory could not be written ({exc.strerror})"
    )


def sync_data(fd: int) -> None:
    """`fdatasync` (the data and the size, not the times), or `fsync` where there is none
    (macOS)."""
    if hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:
        os.fsync(fd)


def remove(path: StrPath) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def put(path: StrPath, data: bytes) -> CacheKey:
    """Make the file hold exactly `data`, written in place (a repeat leaves the same bytes);
    the file's `cache_key` as written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        if os.pwrite(fd, data, 0) != len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        stat = os.fstat(fd)
        if stat.st_size != len(data):
            os.ftruncate(fd, len(data))
            stat = os.fstat(fd)
        return cache_key(stat)
    finally:
        os.close(fd)


def write_at(path: StrPath, offset: int, text: str) -> CacheKey:
    """Make the file end with `text` at `offset` (a repeat leaves the same bytes); the file's
    `cache_key` as written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size != offset:
            os.ftruncate(fd, offset)
        data = text.encode("utf-8")
        if os.pwrite(fd, data, offset) != len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return cache_key(os.fstat(fd))
    finally:
        os.close(fd)


CacheKey = tuple[int, int, int]


def cache_key(stat: os.stat_result) -> CacheKey:
    """What tells a cached file from a changed one (beside the journal's commit count)."""
    return stat.st_ino, stat.st_mtime_ns, stat.st_size
