"""The PostgreSQL connection pool, the thread's current transaction, and the versioned schema.

- One transaction per unit of work, shared by every store on the thread (audit, state and owed
  messages commit together, or not at all); a unit of work's (explicit) transaction commits
  only when told to. A store method called outside one runs in a READ ONLY transaction of its
  own: it reads, and a write there raises RuntimeError with nothing written. A store's own
  bookkeeping (the audit's verified mark, the schema migration) is an explicit unit of its own
  (`own_unit`).
- The schema is versioned and migrated at start under an advisory lock; a database newer than
  the code is refused.
- A database that cannot be reached is `StoreUnavailable`: nothing of the change was kept. A
  connection that breaks while the COMMIT is under way is `OutcomeUnknown`: the change may have
  been kept, and gobot says it cannot know.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from core.audit import GENESIS
from core.errors import OutcomeUnknown, StoreCorrupted, StoreUnavailable
from core.stores.unit import WRITE_OUTSIDE_UNIT

SCHEMA_VERSION = 9
MIGRATION_LOCK = 7_204_112  # pg_advisory_xact_lock key: one migrator at a time
MIGRATIONS: dict[int, str] = {
    1: f"""
    CREATE SEQUENCE gobot_changes;
    CREATE TABLE gobot_sessions (
        id text PRIMARY KEY,
        scope text NOT NULL,
        active boolean NOT NULL,
        changed bigint NOT NULL,
        ended_at text,
        next_due text,
        next_check text,
        data jsonb NOT NULL
    );
    CREATE UNIQUE INDEX gobot_one_active_session_per_scope ON gobot_sessions (scope) WHERE active;
    CREATE INDEX gobot_sessions_latest ON gobot_sessions (scope, changed DESC);
    CREATE INDEX gobot_sessions_due ON gobot_sessions (next_due) WHERE active;
    CREATE INDEX gobot_sessions_check ON gobot_sessions (next_check) WHERE active;
    CREATE INDEX gobot_sessions_history ON gobot_sessions (ended_at DESC) WHERE NOT active;
    CREATE TABLE gobot_progress (step_id text PRIMARY KEY, data jsonb NOT NULL);
    CREATE TABLE gobot_audit (seq bigint PRIMARY KEY, line text NOT NULL);
    CREATE TABLE gobot_audit_head (
        one boolean PRIMARY KEY DEFAULT true CHECK (one), seq bigint NOT NULL, hash text NOT NULL
    );
    INSERT INTO gobot_audit_head (seq, hash) VALUES (0, '{GENESIS}');
    CREATE TABLE gobot_outbox (
        id text PRIMARY KEY,
        seq bigserial NOT NULL,
        session_id text NOT NULL,
        kind text NOT NULL,
        next_attempt text NOT NULL,
        lease_until text,
        data jsonb NOT NULL
    );
    CREATE INDEX gobot_outbox_order ON gobot_outbox (session_id, seq);
    CREATE TABLE gobot_threads (session_id text PRIMARY KEY, data jsonb NOT NULL);
    """,
    2: """
    ALTER TABLE gobot_sessions
        ALTER COLUMN ended_at TYPE timestamptz USING ended_at::timestamptz,
        ALTER COLUMN next_due TYPE timestamptz USING next_due::timestamptz,
        ALTER COLUMN next_check TYPE timestamptz USING next_check::timestamptz;
    ALTER TABLE gobot_outbox
        ALTER COLUMN next_attempt TYPE timestamptz USING next_attempt::timestamptz,
        ALTER COLUMN lease_until TYPE timestamptz USING lease_until::timestamptz;
    """,
    3: """
    CREATE TABLE gobot_requests (key text PRIMARY KEY, until timestamptz NOT NULL);
    CREATE INDEX gobot_requests_until ON gobot_requests (until);
    """,
    4: """
    CREATE TABLE gobot_progress_archive (
        archived_at timestamptz NOT NULL DEFAULT now(), data jsonb NOT NULL
    );
    """,
    5: """
    CREATE TABLE gobot_windows (
        id text PRIMARY KEY, starts_at timestamptz NOT NULL, data jsonb NOT NULL
    );
    CREATE TABLE gobot_marks (key text PRIMARY KEY, at timestamptz NOT NULL);
    """,
    6: """
    ALTER TABLE gobot_audit ADD COLUMN session_id text;
    UPDATE gobot_audit SET session_id = (line::jsonb)->>'session_id';
    CREATE INDEX gobot_audit_session ON gobot_audit (session_id, seq)
        WHERE session_id IS NOT NULL;
    CREATE TABLE gobot_audit_verified (
        one boolean PRIMARY KEY DEFAULT true CHECK (one), seq bigint NOT NULL, hash text NOT NULL
    );
    DROP INDEX gobot_sessions_history;
    CREATE INDEX gobot_sessions_history ON gobot_sessions (ended_at DESC, changed DESC)
        WHERE NOT active;
    CREATE INDEX gobot_sessions_scope_history ON gobot_sessions (scope, ended_at DESC, changed DESC)
        WHERE NOT active;
    CREATE INDEX gobot_windows_start ON gobot_windows (starts_at);
    """,
    7: """
    CREATE TABLE gobot_deployments (
        id text PRIMARY KEY, state text NOT NULL, asked_at timestamptz NOT NULL, data jsonb NOT NULL
    );
    CREATE INDEX gobot_deployments_pending ON gobot_deployments (asked_at) WHERE state = 'pending';
    """,
    8: """
    CREATE INDEX gobot_deployments_session ON gobot_deployments ((data->>'session_id'), asked_at);
    CREATE INDEX gobot_deployments_answered ON gobot_deployments ((data->>'decided_at_utc'))
        WHERE state <> 'pending';
    """,
    9: """
    CREATE INDEX gobot_marks_at ON gobot_marks (at);
    """,
}


CONNECT_TIMEOUT_SECONDS = 2
ACQUIRE_TIMEOUT_SECONDS = 2.0


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PgDatabase:
    """A pool and the thread's current transaction. A database that does not answer fails a
    change within a few seconds (connect and acquire timeouts), never after a long wait; every
    connection is checked as it is taken, so the pool recovers by itself once the database is
    back."""

    def __init__(self, url: str, max_size: int = 10) -> None:
        try:  # one plain connection first: a wrong name or password is said at once, as it is
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS).close()
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {_first_line(exc)}") from exc
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            open=False,
            timeout=ACQUIRE_TIMEOUT_SECONDS,
            check=ConnectionPool.check_connection,
            kwargs={"row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
        )
        try:
            self.pool.open(wait=True, timeout=10)
        except (psycopg.Error, PoolTimeout) as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {_first_line(exc)}") from exc
        self._local = threading.local()
        self.migrate()

    def keep(self) -> None:
        """Have the calling thread's transaction commit when it ends."""
        if not self.in_transaction():
            raise RuntimeError("keep() belongs inside a transaction")
        self._local.keep = True

    def in_transaction(self) -> bool:
        """Whether the calling thread is inside a unit of work already."""
        return getattr(self._local, "connection", None) is not None

    def in_unit(self) -> bool:
        """Whether the calling thread is inside a unit of work (a transaction that may write and
        lock rows), not only in a store's own read."""
        connection = getattr(self._local, "connection", None)
        return connection is not None and connection.read_only is not True

    @contextmanager
    def transaction(
        self, *, explicit: bool = False
    ) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """The thread's transaction, joined if it has one. The outermost commits when its block
        ends without an exception if it is explicit and `keep()` was called in it, and rolls
        back otherwise; one that is not explicit is READ ONLY (a write in it raises
        RuntimeError)."""
        current = getattr(self._local, "connection", None)
        if current is not None:
            yield current
            return
        committing = False
        try:
            with self.pool.connection() as raw:
                connection = cast(psycopg.Connection[dict[str, Any]], raw)  # rows are dicts
                connection.read_only = None if explicit else True  # None: the server's default
                self._local.connection, self._local.keep = connection, False
                try:
                    # one block: a store's own `transaction()` inside it is a savepoint, even as
                    # the first statement
                    with connection.transaction():
                        yield connection
                        if not self._local.keep:
                            raise psycopg.Rollback()
                        committing = True  # the block's end sends COMMIT
                finally:
                    self._local.connection = None
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            if explicit:
                raise  # the database itself refuses writes
            raise RuntimeError(WRITE_OUTSIDE_UNIT) from exc
        except (psycopg.OperationalError, PoolTimeout) as exc:
            if committing:
                raise OutcomeUnknown(
                    "the database did not confirm the change, so gobot cannot know whether it "
                    "was kept"
                ) from exc
            raise StoreUnavailable("the database is unavailable") from exc

    @contextmanager
    def own_unit(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """A store's own bookkeeping as a unit of work of its own, kept when its block ends
        without an exception; inside a caller's unit of work it is part of that one, which
        decides."""
        outer = self.in_transaction()
        with self.transaction(explicit=True) as db:
            yield db
            if not outer:
                self._local.keep = True

    def write_problem(self) -> str | None:
        """Why a change could not be kept now, or None: the database answers a write (into a
        temporary table, rolled back) on a primary that is not read-only."""
        try:
            with self.transaction(explicit=True) as db:
                db.execute("CREATE TEMPORARY TABLE gobot_probe (x int) ON COMMIT DROP")
                db.execute("INSERT INTO gobot_probe VALUES (1)")
        except StoreUnavailable as exc:
            return exc.message
        except psycopg.Error as exc:
            return f"the database refuses writes: {_first_line(exc)}"
        return None

    def migrate(self) -> int:
        """Bring the schema to SCHEMA_VERSION; a no-op when it is there already."""
        with self.own_unit() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS gobot_schema (version int NOT NULL)")
            row = db.execute("SELECT max(version) AS version FROM gobot_schema").fetchone()
            version = int(row["version"] or 0) if row else 0
            if version > SCHEMA_VERSION:
                raise StoreCorrupted(
                    f"the database schema is version {version}, newer than this gobot "
                    f"understands ({SCHEMA_VERSION}): upgrade gobot"
                )
            for number in range(version + 1, SCHEMA_VERSION + 1):
                db.execute(MIGRATIONS[number])
                db.execute("INSERT INTO gobot_schema (version) VALUES (%s)", (number,))
            return SCHEMA_VERSION

    def close(self) -> None:
        self.pool.close()


_databases: dict[str, PgDatabase] = {}
_databases_guard = threading.Lock()


def open_database(url: str) -> PgDatabase:
    """One pool per database URL per process, migrated on first open."""
    with _databases_guard:
        database = _databases.get(url)
        if database is None:
            database = _databases[url] = PgDatabase(url)
        return database


def close_database(url: str) -> None:
    with _databases_guard:
        database = _databases.pop(url, None)
    if database is not None:
        database.close()
