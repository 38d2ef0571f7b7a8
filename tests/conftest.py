"""Shared fixtures: an injected clock and the real services on a temporary data dir."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from bot.wiring import Services, build_services

T0 = datetime(2026, 1, 1, 9, 0, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand; thread-safe so racing threads may read it."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


def write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload), encoding="utf-8")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def green(data_dir: Path) -> Path:
    """A healthy system: band A, health green, in the default file sources."""
    write_json(
        data_dir / "cone_state.json",
        {
            "band": "A",
            "reason": "KPIs green",
            "updated_at_utc": "2026-01-01T08:00:00Z",
            "metrics": {"error_rate": 0.01},
        },
    )
    write_json(data_dir / "health_status.json", {"status": "green", "reasons": []})
    return data_dir


@pytest.fixture
def make_services(data_dir: Path, clock: FakeClock) -> Callable[..., Services]:
    def make(**overrides: Any) -> Services:
        return build_services(Settings(data_dir=data_dir, **overrides), clock=clock)

    return make


@pytest.fixture
def services(make_services: Callable[..., Services], green: Path) -> Services:
    return make_services()
