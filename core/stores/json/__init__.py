"""The embedded JSON store: every change one all-or-nothing unit of work in the data directory
(`datadir`), with sessions, playbook progress, the audit chain, the outbox and the GitHub
deployments on top of it; `with uow: ...; uow.commit()` (core/stores/unit.py) is one data
directory transaction."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from core.stores.json.audit import JsonAuditLog
from core.stores.json.claims import JsonClaimStore
from core.stores.json.datadir import data_dir
from core.stores.json.deployments import JsonDeploymentStore
from core.stores.json.outbox import JsonOutbox
from core.stores.json.progress import JsonProgressStore
from core.stores.json.requests import JsonRequestLedger
from core.stores.json.sessions import JsonSessionStore
from core.stores.json.windows import JsonWindowStore
from core.stores.unit import ExplicitUnit


class JsonUnitOfWork(ExplicitUnit):
    """`read_only`: the stores read the data directory and change nothing in it."""

    def __init__(self, directory: Path, *, read_only: bool = False) -> None:
        super().__init__()
        self._dd = data_dir(directory, read_only)
        self.sessions = JsonSessionStore(directory)
        self.progress = JsonProgressStore(directory)
        self.audit = JsonAuditLog(directory)
        self.outbox = JsonOutbox(directory)
        self.requests = JsonRequestLedger(directory)
        self.windows = JsonWindowStore(directory)
        self.deployments = JsonDeploymentStore(directory)
        self.claims = JsonClaimStore(directory)

    def _begin(self) -> AbstractContextManager[object]:
        return self._dd.transaction(explicit=True)

    def _keep(self) -> None:
        self._dd.keep()

    def write_problem(self) -> str | None:
        return self._dd.write_problem()
