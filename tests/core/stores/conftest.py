"""The unit of work of each store, for the tests every store must pass: bare, and calling each
port in a committed unit of work of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.ports import UnitOfWork
from core.stores.json import JsonUnitOfWork
from core.stores.postgres import PgUnitOfWork
from tests.units import committing


@pytest.fixture
def bare_uow(store_settings: dict[str, Any], data_dir: Path) -> Iterator[UnitOfWork]:
    if store_settings:
        yield PgUnitOfWork.open(str(store_settings["database_url"]))
    else:
        yield JsonUnitOfWork(data_dir)


@pytest.fixture
def uow(bare_uow: UnitOfWork) -> UnitOfWork:
    """The contract tests call the ports one by one: each call its own committed unit of work
    (tests/units.py), unless the test opens a block of its own."""
    return committing(bare_uow)
