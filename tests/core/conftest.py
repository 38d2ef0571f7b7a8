"""Core services wired to a fake transport at the port."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.bootstrap import build_services
from bot.settings import Settings
from core.services import Services
from tests.conftest import FakeClock
from tests.core.fakes import FakeTransport


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def wired(
    data_dir: Path,
    green: Path,
    clock: FakeClock,
    transport: FakeTransport,
    store_settings: dict[str, Any],
) -> Callable[..., Services]:
    """Services on the test store, delivering to `transport`; settings as keyword args."""

    def make(**settings: Any) -> Services:
        combined = Settings(data_dir=data_dir, **{**store_settings, **settings})
        return build_services(combined, clock, transport)

    return make
