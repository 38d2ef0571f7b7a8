"""The unit of work of each store, for the tests every store must pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.ports import UnitOfWork
from core.stores.json import JsonUnitOfWork
from core.stores.postgres import PgUnitOfWork


@pytest.fixture
def uow(store_settings: dict[str, Any], data_dir: Path) -> Iterator[UnitOfWork]:
    if store_settings:
        yield PgUnitOfWork.open(str(store_settings["database_url"]))
    else:
        yield JsonUnitOfWork(data_dir)
