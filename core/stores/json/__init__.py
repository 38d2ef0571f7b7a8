"""The embedded JSON store: every change one all-or-nothing unit of work in the data directory
(`datadir`), with sessions, playbook progress, the audit chain and the outbox on top of it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.stores.json.audit import JsonAuditLog
from core.stores.json.datadir import data_dir
from core.stores.json.outbox import JsonOutbox
from core.stores.json.progress import JsonProgressStore
from core.stores.json.requests import JsonRequestLedger
from core.stores.json.sessions import JsonSessionStore
from core.stores.json.windows import JsonWindowStore


class JsonUnitOfWork:
    def __init__(self, directory: Path) -> None:
        self._dd = data_dir(directory)
        self.sessions = JsonSessionStore(directory)
        self.progress = JsonProgressStore(directory)
        self.audit = JsonAuditLog(directory)
        self.outbox = JsonOutbox(directory)
        self.requests = JsonRequestLedger(directory)
        self.windows = JsonWindowStore(directory)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._dd.transaction():
            yield
