"""`with uow: ...; uow.commit()`, the same for every store: a block opens the store's
transaction, or joins the one its thread is in already. The outermost block keeps what was
written in it only if `commit()` was called in it; without that, or when the block raises,
nothing of it is kept. A `commit()` in a block nested in another is left to the outer one.
A store method called outside any block may read (in a transaction of its own, never seeing
half a change); a write there is a programming error: it raises RuntimeError
(`WRITE_OUTSIDE_UNIT`) and writes nothing. Only a store's own bookkeeping (the audit's verified
mark) is a unit of its own, said where it happens."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Self

WRITE_OUTSIDE_UNIT = (
    "a store write belongs inside `with uow: ...; uow.commit()` (nothing was written)"
)


class ExplicitUnit(ABC):
    def __init__(self) -> None:
        self._local = threading.local()

    @abstractmethod
    def _begin(self) -> AbstractContextManager[object]:
        """The store's transaction, opened so that only `_keep` makes it commit."""

    @abstractmethod
    def _keep(self) -> None:
        """Have the thread's transaction commit when its outermost block ends."""

    def _blocks(self) -> list[AbstractContextManager[object]]:
        blocks: list[AbstractContextManager[object]] | None = getattr(self._local, "blocks", None)
        if blocks is None:
            blocks = self._local.blocks = []
        return blocks

    def __enter__(self) -> Self:
        block = self._begin()
        block.__enter__()
        self._blocks().append(block)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._blocks().pop().__exit__(kind, error, traceback)

    def commit(self) -> None:
        blocks = self._blocks()
        if not blocks:
            raise RuntimeError("commit() belongs inside `with uow:`")
        if len(blocks) == 1:
            self._keep()
