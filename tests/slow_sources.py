"""Snapshot sources for tests: one that hangs until the test releases it (the `held_health`
fixture), one that counts its reads."""

from __future__ import annotations

import threading
from typing import Any

RELEASE = threading.Event()


def hang() -> Any:
    """Answers green only once RELEASE is set (at the latest when the test is over)."""
    RELEASE.wait(timeout=60)
    return {"status": "green", "reasons": []}


READS: list[int] = []


def counted() -> Any:
    """Answers green at once, and counts the read."""
    READS.append(1)
    return {"status": "green", "reasons": []}
