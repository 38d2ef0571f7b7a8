"""Snapshot sources for tests: one that hangs far longer than any timeout."""

from __future__ import annotations

import threading
from typing import Any

RELEASE = threading.Event()


def hang() -> Any:
    """Never answers within a test (until RELEASE is set)."""
    RELEASE.wait(timeout=60)
    return {"status": "green", "reasons": []}
