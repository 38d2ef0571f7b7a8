"""Faults at the JSON store's boundary with the operating system: the `os` of the data
directory's modules replaced by a view of it that fails, or kills the process, at the K-th
write call."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from types import ModuleType
from typing import Any

from core.stores.json import commit, datadir, files, recovery

# Every module of the JSON store that calls the OS on the data directory.
STORE_MODULES: tuple[ModuleType, ...] = (datadir, commit, recovery, files)
WRITES = (
    "write",
    "pwrite",
    "replace",
    "rename",
    "fsync",
    "fdatasync",
    "ftruncate",
    "truncate",
    "unlink",
    "makedirs",
)
FULL_DISK = (
    "write",
    "pwrite",
    "fsync",
    "fdatasync",
)  # what a full disk fails (freeing space still works)


class FaultyOs:
    """`os` as the data directory sees it, with `fault(name)` run before the K-th write call
    (and, with `every`, before each one after it), counting only the calls in `names`."""

    def __init__(
        self,
        at: int,
        fault: Callable[[str], None],
        every: bool = False,
        names: tuple[str, ...] = WRITES,
    ) -> None:
        self.at, self.fault, self.every, self.names, self.calls = at, fault, every, names, 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(os, name)
        if name not in self.names:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self.at or (self.every and self.calls > self.at):
                self.fault(name)
            return real(*args, **kwargs)

        return call


def kill_self(name: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def fail_with(code: int) -> Callable[[str], None]:
    def fault(name: str) -> None:
        raise OSError(code, os.strerror(code))

    return fault


def put_between(view: Any) -> None:
    """Have the data directory's modules call the OS through `view` (`os` itself: no fault)."""
    for module in STORE_MODULES:
        module.os = view  # type: ignore[attr-defined]
