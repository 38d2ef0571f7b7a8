"""The PostgreSQL store (`GOBOT_STORE=postgres`): sessions, progress, audit chain, outbox and
GitHub deployments in one database, for several replicas; `with uow: ...; uow.commit()`
(core/stores/unit.py) is one database transaction."""

from __future__ import annotations

from contextlib import AbstractContextManager

from core.stores.postgres.audit import PgAuditLog
from core.stores.postgres.claims import PgClaimStore
from core.stores.postgres.database import PgDatabase, open_database
from core.stores.postgres.deployments import PgDeploymentStore
from core.stores.postgres.outbox import PgOutbox
from core.stores.postgres.progress import PgProgressStore
from core.stores.postgres.requests import PgRequestLedger
from core.stores.postgres.sessions import PgSessionStore
from core.stores.postgres.windows import PgWindowStore
from core.stores.unit import ExplicitUnit


class PgUnitOfWork(ExplicitUnit):
    def __init__(self, db: PgDatabase) -> None:
        super().__init__()
        self.database = db
        self.sessions = PgSessionStore(db)
        self.progress = PgProgressStore(db)
        self.audit = PgAuditLog(db)
        self.outbox = PgOutbox(db)
        self.requests = PgRequestLedger(db)
        self.windows = PgWindowStore(db)
        self.deployments = PgDeploymentStore(db)
        self.claims = PgClaimStore(db)

    @classmethod
    def open(cls, url: str) -> PgUnitOfWork:
        return cls(open_database(url))

    def _begin(self) -> AbstractContextManager[object]:
        return self.database.transaction(explicit=True)

    def _keep(self) -> None:
        self.database.keep()

    def write_problem(self) -> str | None:
        return self.database.write_problem()
