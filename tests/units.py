"""For tests that call the stores' ports one by one: `committing(uow)` runs each call of a
store method in a unit of work of its own, committed (a store write outside one raises). Inside
a block of the test's own (`with uow: ...`) each call joins it, and the block decides, as any
nested unit of work does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from core.ports import UnitOfWork
from core.stores.json import JsonUnitOfWork

STORES = ("sessions", "progress", "audit", "outbox", "requests", "windows", "deployments", "claims")


class _Kept:
    def __init__(self, uow: UnitOfWork, store: object) -> None:
        self._uow = uow
        self._store = store

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)
        if not callable(method):
            return method

        def kept(*args: Any, **kwargs: Any) -> Any:
            with self._uow:
                result = method(*args, **kwargs)
                self._uow.commit()
            return result

        return kept


class Committing:
    def __init__(self, uow: UnitOfWork) -> None:
        self.bare = uow

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.bare, name)
        return _Kept(self.bare, found) if name in STORES else found

    def __enter__(self) -> Self:
        self.bare.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.bare.__exit__(kind, error, traceback)

    def commit(self) -> None:
        self.bare.commit()


def committing(uow: UnitOfWork) -> UnitOfWork:
    return cast(UnitOfWork, Committing(uow))


@contextmanager
def json_unit(directory: Path) -> Iterator[None]:
    """A unit of work of the JSON data directory `directory`, committed when the block ends (for
    tests of a single JSON store)."""
    uow = JsonUnitOfWork(directory)
    with uow:
        yield
        uow.commit()
