"""Snapshot sources for tests: one that hangs far longer than any timeout, one that is slow,
one that counts its reads."""

from __future__ import annotations

import threading
import time
from typing import Any

RELEASE = threading.Event()


def hang() -> Any:
    """Never answers within a test (until RELEASE is set)."""
    RELEASE.wait(timeout=60)
    return {"status": "green", "reasons": []}


def slow() -> Any:
    """Answers green after a second: slow, within a generous timeout."""
    time.sleep(1.0)
    return {"status": "green", "reasons": []}


READS: list[int] = []


def counted() -> Any:
    """Answers green at once, and counts the read."""
    READS.append(1)
    return {"status": "green", "reasons": []}
