"""The PostgreSQL backend (`GOBOT_STORE=postgres`): sessions, progress, audit chain and outbox in
one database, for several replicas.

- One transaction per unit of work, shared by every store on the thread (audit and state
  commit together, or not at all).
- One active session per scope is enforced by a partial unique index, not by Python.
- Reads inside a transaction lock the session row (`FOR UPDATE`): compare-and-set claims are
  atomic across replicas. Audit appends serialize on the head row. Outbox leases are a
  conditional `UPDATE … RETURNING`.
- The schema is versioned and migrated at start under an advisory lock; a database newer than
  the code is refused.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from core.audit import GENESIS, ChainBroken, Verification, build_record, check_record
from core.errors import NoActiveSession, SessionAlreadyActive, StoreCorrupted
from core.models import AuditEvent, GoSession, MessageRef, PlaybookProgress, StepCompletion
from core.outbox import OutboxItem

SCHEMA_VERSION = 1
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
}


class PgDatabase:
    """A pool and the thread's current transaction."""

    def __init__(self, url: str, max_size: int = 10) -> None:
        self.pool = ConnectionPool(
            url, min_size=1, max_size=max_size, open=False, kwargs={"row_factory": dict_row}
        )
        try:
            self.pool.open(wait=True, timeout=10)
        except psycopg.Error as exc:
            raise StoreCorrupted(f"cannot connect to PostgreSQL: {exc}") from exc
        self._local = threading.local()
        self.migrate()

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        current = getattr(self._local, "connection", None)
        if current is not None:
            yield current
            return
        with self.pool.connection() as raw:  # commits on exit, rolls back on error
            connection = cast(psycopg.Connection[dict[str, Any]], raw)  # rows are dicts
            self._local.connection = connection
            try:
                yield connection
            finally:
                self._local.connection = None

    def migrate(self) -> int:
        """Bring the schema to SCHEMA_VERSION; a no-op when it is there already."""
        with self.transaction() as db:
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


def _session(row: dict[str, Any] | None) -> GoSession | None:
    return None if row is None else GoSession.model_validate(row["data"])


class PgSessionStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def transaction(self) -> Any:
        return self._db.transaction()

    def get(self, scope: str) -> GoSession | None:
        with self._db.transaction() as db:
            return _session(
                db.execute(
                    "SELECT data FROM gobot_sessions WHERE scope = %s "
                    "ORDER BY changed DESC LIMIT 1 FOR UPDATE",
                    (scope,),
                ).fetchone()
            )

    def latest(self) -> GoSession | None:
        with self._db.transaction() as db:
            return _session(
                db.execute(
                    "SELECT data FROM gobot_sessions ORDER BY changed DESC LIMIT 1"
                ).fetchone()
            )

    def active(self) -> list[GoSession]:
        with self._db.transaction() as db:
            rows = db.execute("SELECT data FROM gobot_sessions WHERE active ORDER BY changed")
            return [GoSession.model_validate(row["data"]) for row in rows]

    def due(self, now_utc: str) -> list[GoSession]:
        with self._db.transaction() as db:
            rows = db.execute(
                "SELECT data FROM gobot_sessions WHERE active AND "
                "(next_due <= %(now)s OR next_check <= %(now)s) ORDER BY changed",
                {"now": now_utc},
            )
            return [GoSession.model_validate(row["data"]) for row in rows]

    @staticmethod
    def _columns(session: GoSession) -> dict[str, Any]:
        return {
            "id": session.id,
            "scope": session.scope,
            "active": session.active,
            "ended_at": session.ended_at_utc,
            "next_due": session.reminder.next_due_utc,
            "next_check": session.watch.next_check_utc,
            "data": Jsonb(session.model_dump(mode="json")),
        }

    def insert(self, session: GoSession) -> None:
        """Add a session row as it is (active or ended) as the newest change of its scope."""
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO gobot_sessions (id, scope, active, changed, ended_at, next_due, "
                "next_check, data) VALUES (%(id)s, %(scope)s, %(active)s, "
                "nextval('gobot_changes'), %(ended_at)s, %(next_due)s, %(next_check)s, %(data)s)",
                self._columns(session),
            )

    def create(self, session: GoSession) -> None:
        if not session.active or not session.scope:
            raise ValueError("create() takes an active session with a scope")
        with self._db.transaction() as db:
            try:
                with db.transaction():  # a savepoint: the unique index may refuse the row
                    self.insert(session)
            except psycopg.errors.UniqueViolation:
                current = self.get(session.scope)
                if current is None:
                    raise
                raise SessionAlreadyActive.about(current) from None

    def finish(self, ended: GoSession) -> None:
        if ended.active or not ended.scope:
            raise ValueError("finish() takes an ended session with a scope")
        with self._db.transaction() as db:
            row = db.execute(
                "UPDATE gobot_sessions SET active = false, changed = nextval('gobot_changes'), "
                "ended_at = %(ended_at)s, next_due = NULL, next_check = NULL, data = %(data)s "
                "WHERE id = %(id)s AND active RETURNING id",
                self._columns(ended),
            ).fetchone()
            if row is None:
                raise NoActiveSession("The session was already ended.")

    def replace(self, session: GoSession) -> bool:
        with self._db.transaction() as db:
            row = db.execute(
                "UPDATE gobot_sessions SET data = %(data)s, next_due = %(next_due)s, "
                "next_check = %(next_check)s WHERE id = %(id)s AND id = (SELECT id FROM "
                "gobot_sessions WHERE scope = %(scope)s ORDER BY changed DESC LIMIT 1) "
                "RETURNING id",
                self._columns(session),
            ).fetchone()
            return row is not None

    def history(self, limit: int, scope: str | None = None) -> list[GoSession]:
        if limit <= 0:
            return []
        with self._db.transaction() as db:
            rows = db.execute(
                "SELECT data FROM gobot_sessions WHERE NOT active AND "
                "(%(scope)s::text IS NULL OR scope = %(scope)s) "
                "ORDER BY ended_at DESC, changed DESC LIMIT %(limit)s",
                {"scope": scope, "limit": limit},
            )
            return [GoSession.model_validate(row["data"]) for row in rows]


class PgProgressStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def transaction(self) -> Any:
        return self._db.transaction()

    def load(self) -> PlaybookProgress:
        with self._db.transaction() as db:
            rows = db.execute("SELECT step_id, data FROM gobot_progress")
            return PlaybookProgress(
                completed={
                    row["step_id"]: StepCompletion.model_validate(row["data"]) for row in rows
                }
            )

    def mark_done(self, step_id: str, completion: StepCompletion) -> StepCompletion | None:
        with self._db.transaction() as db:
            inserted = db.execute(
                "INSERT INTO gobot_progress (step_id, data) VALUES (%s, %s) "
                "ON CONFLICT (step_id) DO NOTHING RETURNING step_id",
                (step_id, Jsonb(completion.model_dump(mode="json"))),
            ).fetchone()
            if inserted is not None:
                return None
            row = db.execute(
                "SELECT data FROM gobot_progress WHERE step_id = %s", (step_id,)
            ).fetchone()
            return None if row is None else StepCompletion.model_validate(row["data"])

    def reset(self) -> None:
        with self._db.transaction() as db:
            db.execute("DELETE FROM gobot_progress")


class PgAuditLog:
    """The same chain as `audit.log`, one row per record; the head row is both the lock that
    serializes appends and the guard against records cut off the end."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def append(self, event: AuditEvent, at_utc: str) -> dict[str, Any]:
        with self._db.transaction() as db:
            head = db.execute("SELECT seq, hash FROM gobot_audit_head FOR UPDATE").fetchone()
            assert head is not None
            line, digest = build_record(event, int(head["seq"]) + 1, str(head["hash"]), at_utc)
            db.execute(
                "INSERT INTO gobot_audit (seq, line) VALUES (%s, %s)", (int(head["seq"]) + 1, line)
            )
            db.execute("UPDATE gobot_audit_head SET seq = seq + 1, hash = %s", (digest,))
            record: dict[str, Any] = json.loads(line)
            return record

    def tail(self, limit: int) -> list[dict[str, Any]]:
        with self._db.transaction() as db:
            rows = db.execute("SELECT line FROM gobot_audit ORDER BY seq DESC LIMIT %s", (limit,))
            return [json.loads(row["line"]) for row in rows][::-1]

    def verify(self) -> Verification:
        with self._db.transaction() as db:
            head = db.execute("SELECT seq, hash FROM gobot_audit_head").fetchone()
            rows = db.execute("SELECT seq, line FROM gobot_audit ORDER BY seq").fetchall()
        if head is None:
            return Verification(False, 0, "gobot_audit_head is missing")
        prev, seq = GENESIS, 0
        for number, row in enumerate(rows, start=1):
            try:
                record = check_record(row["line"], number, seq + 1, prev)
            except ChainBroken as broken:
                return Verification(False, seq, str(broken), broken.line_number)
            if record["seq"] != row["seq"]:
                return Verification(
                    False, seq, f"record {number}: stored under seq {row['seq']}", number
                )
            seq, prev = record["seq"], record["hash"]
        if (seq, prev) != (head["seq"], head["hash"]):
            return Verification(
                False,
                seq,
                f"the head names record {head['seq']} but the chain "
                "ends elsewhere (records removed from the end, or the head "
                "edited)",
                len(rows) + 1,
            )
        return Verification(True, seq)


class PgOutbox:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    @staticmethod
    def _item(row: dict[str, Any]) -> OutboxItem:
        return OutboxItem.model_validate({**row["data"], "seq": row["seq"]})

    def add(self, items: list[OutboxItem]) -> None:
        with self._db.transaction() as db:
            for item in items:
                row = db.execute(
                    "INSERT INTO gobot_outbox (id, session_id, kind, next_attempt, lease_until, "
                    "data) VALUES (%s, %s, %s, %s, %s, %s) RETURNING seq",
                    (
                        item.id,
                        item.session_id,
                        item.kind,
                        item.next_attempt_utc,
                        item.lease_until_utc,
                        Jsonb(item.model_dump(mode="json")),
                    ),
                ).fetchone()
                assert row is not None
                item.seq = int(row["seq"])

    def ready(self, now_utc: str, limit: int = 1000) -> list[OutboxItem]:
        with self._db.transaction() as db:
            rows = db.execute(
                "SELECT * FROM (SELECT DISTINCT ON (session_id) seq, next_attempt, lease_until, "
                "data FROM gobot_outbox ORDER BY session_id, seq) AS heads "
                "WHERE next_attempt <= %(now)s AND (lease_until IS NULL OR lease_until <= %(now)s)"
                " ORDER BY seq LIMIT %(limit)s",
                {"now": now_utc, "limit": limit},
            )
            return [self._item(row) for row in rows]

    def _write(self, db: psycopg.Connection[dict[str, Any]], item: OutboxItem) -> None:
        db.execute(
            "UPDATE gobot_outbox SET next_attempt = %s, lease_until = %s, data = %s WHERE id = %s",
            (
                item.next_attempt_utc,
                item.lease_until_utc,
                Jsonb(item.model_dump(mode="json")),
                item.id,
            ),
        )

    def lease(self, item: OutboxItem, now_utc: str, until_utc: str) -> OutboxItem | None:
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT seq, data FROM gobot_outbox WHERE id = %s AND "
                "(lease_until IS NULL OR lease_until <= %s) FOR UPDATE SKIP LOCKED",
                (item.id, now_utc),
            ).fetchone()
            if row is None:
                return None
            current = self._item(row)
            leased = current.model_copy(
                update={
                    "lease_until_utc": until_utc,
                    "attempts": current.attempts + 1,
                    "maybe_sent": current.maybe_sent or current.lease_until_utc is not None,
                }
            )
            self._write(db, leased)
            return leased

    def done(self, item: OutboxItem) -> None:
        with self._db.transaction() as db:
            db.execute("DELETE FROM gobot_outbox WHERE id = %s", (item.id,))

    def retry(self, item: OutboxItem, next_attempt_utc: str, error: str, maybe_sent: bool) -> None:
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT seq, data FROM gobot_outbox WHERE id = %s FOR UPDATE", (item.id,)
            ).fetchone()
            if row is None:
                return
            current = self._item(row)
            self._write(
                db,
                current.model_copy(
                    update={
                        "next_attempt_utc": next_attempt_utc,
                        "lease_until_utc": None,
                        "last_error": error,
                        "maybe_sent": current.maybe_sent or maybe_sent,
                    }
                ),
            )

    def drop(self, session_id: str, kinds: tuple[str, ...], now_utc: str) -> int:
        """Leased items stay: they are being sent, ahead of what follows."""
        with self._db.transaction() as db:
            cursor = db.execute(
                "DELETE FROM gobot_outbox WHERE session_id = %s AND kind = ANY(%s) "
                "AND (lease_until IS NULL OR lease_until <= %s)",
                (session_id, list(kinds), now_utc),
            )
            return cursor.rowcount

    def depth(self) -> int:
        with self._db.transaction() as db:
            row = db.execute("SELECT count(*) AS n FROM gobot_outbox").fetchone()
            return int(row["n"]) if row else 0

    def set_thread(self, session_id: str, message: MessageRef) -> None:
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO gobot_threads (session_id, data) VALUES (%s, %s) "
                "ON CONFLICT (session_id) DO UPDATE SET data = EXCLUDED.data",
                (session_id, Jsonb(message.model_dump())),
            )

    def thread(self, session_id: str) -> MessageRef | None:
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT data FROM gobot_threads WHERE session_id = %s", (session_id,)
            ).fetchone()
            return None if row is None else MessageRef.model_validate(row["data"])
