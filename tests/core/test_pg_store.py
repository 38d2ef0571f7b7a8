"""What only the PostgreSQL store has: migrations, the database's own guarantees, the chain
kept in rows, windows read without the writers' lock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from core.audit import GENESIS, build_record
from core.clock import parse_utc
from core.errors import SessionAlreadyActive, StoreCorrupted, StoreUnavailable
from core.models import AuditEvent, GoSession
from core.services import Services
from core.stores.postgres import PgUnitOfWork
from core.stores.postgres.database import MIGRATIONS, SCHEMA_VERSION, PgDatabase, close_database
from core.stores.postgres.sessions import PgSessionStore
from core.stores.postgres.windows import LOCK
from tests.units import committing

postgres_only = pytest.mark.parametrize("store_settings", ["postgres"], indirect=True)


def url_of(store_settings: dict[str, Any]) -> str:
    return str(store_settings["database_url"])


@postgres_only
def test_migrations_are_versioned_and_rerunning_is_a_no_op(
    services: Services, store_settings: dict[str, Any]
) -> None:
    database = PgDatabase(url_of(store_settings))
    try:
        assert database.migrate() == SCHEMA_VERSION
        assert database.migrate() == SCHEMA_VERSION
        with database.transaction() as db:
            versions = [row["version"] for row in db.execute("SELECT version FROM gobot_schema")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
    finally:
        database.close()


@postgres_only
def test_a_newer_schema_than_the_code_is_refused_clearly(
    services: Services, store_settings: dict[str, Any]
) -> None:
    with psycopg.connect(url_of(store_settings), autocommit=True) as db:
        db.execute("INSERT INTO gobot_schema (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreCorrupted, match="newer than this gobot understands"):
        PgDatabase(url_of(store_settings))


@postgres_only
def test_the_database_itself_allows_one_active_session_per_scope(
    services: Services, store_settings: dict[str, Any]
) -> None:
    services.sessions.start("U1", "C1", "")
    second = GoSession(
        active=True, id="sneaky", scope="workspace", started_at_utc="2026-01-01T09:00:00Z"
    )
    with pytest.raises(SessionAlreadyActive):
        committing(PgUnitOfWork(PgDatabase(url_of(store_settings)))).sessions.create(second)
    with (
        psycopg.connect(url_of(store_settings)) as db,
        pytest.raises(psycopg.errors.UniqueViolation),
    ):
        db.execute(
            "INSERT INTO gobot_sessions (id, scope, active, changed, data) "
            "VALUES ('raw', 'workspace', true, 0, '{}')"
        )


@postgres_only
@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("UPDATE gobot_audit SET line = replace(line, '\"U1\"', '\"U9\"') WHERE seq = 1", "edited"),
        ("DELETE FROM gobot_audit WHERE seq = 2", "removed or moved"),
        ("DELETE FROM gobot_audit WHERE seq = 3", "removed from the end"),
    ],
)
def test_the_audit_chain_in_the_database_detects_tampering(
    make_services: Callable[..., Services],
    green: object,
    store_settings: dict[str, Any],
    tamper: str,
    problem: str,
) -> None:
    services = make_services()
    services.sessions.start("U1", "C1", "")
    services.playbook.complete("1", "U1")
    services.sessions.end("U1", "C1", "")
    assert services.audit.verify().ok
    with psycopg.connect(url_of(store_settings), autocommit=True) as db:
        db.execute(tamper)
    result = services.audit.verify()
    assert not result.ok and result.problem is not None and problem in result.problem


@postgres_only
def test_a_version_1_database_moves_its_times_to_timestamptz_and_keeps_them(
    store_settings: dict[str, Any], make_services: Callable[..., Services], green: Any
) -> None:
    """Version 1 kept due times as text; version 2 as timestamptz, values unchanged."""
    url = url_of(store_settings)
    session = GoSession(
        active=True, id="old", scope="workspace", started_at_utc="2026-01-01T09:00:00Z"
    )
    data = session.model_dump(mode="json")
    data["reminder"]["next_due_utc"] = "2026-01-01T10:00:00.000000Z"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE gobot_schema (version int NOT NULL)")
        db.execute(MIGRATIONS[1])
        db.execute("INSERT INTO gobot_schema (version) VALUES (1)")
        db.execute(
            "INSERT INTO gobot_sessions (id, scope, active, changed, next_due, data) "
            "VALUES ('old', 'workspace', true, nextval('gobot_changes'), %s, %s)",
            ("2026-01-01T10:00:00.000000Z", Jsonb(data)),
        )
    services = make_services()
    with psycopg.connect(url) as db:
        row = db.execute(
            "SELECT pg_typeof(next_due)::text AS kind, next_due FROM gobot_sessions"
        ).fetchone()
    assert row is not None and row[0] == "timestamp with time zone"
    assert row[1] == parse_utc("2026-01-01T10:00:00Z")
    assert services.sessions.get().reminder.next_due_utc == parse_utc("2026-01-01T10:00:00Z")
    assert [
        s.id for s in PgSessionStore(PgDatabase(url)).due(parse_utc("2026-01-01T10:00:00Z"))
    ] == ["old"]


@postgres_only
def test_a_version_5_database_gains_the_audit_records_session_column(
    store_settings: dict[str, Any], make_services: Callable[..., Services], green: Any
) -> None:
    """Records written before version 6 are found by their session after the migration."""
    url = url_of(store_settings)
    at = parse_utc("2026-01-01T09:00:00Z")
    started = AuditEvent(event="GO_SESSION_START", session_id="s1")
    line, digest = build_record(started, 1, GENESIS, at)
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE gobot_schema (version int NOT NULL)")
        for number in range(1, 6):
            db.execute(MIGRATIONS[number])
            db.execute("INSERT INTO gobot_schema (version) VALUES (%s)", (number,))
        db.execute("INSERT INTO gobot_audit (seq, line) VALUES (1, %s)", (line,))
        db.execute("UPDATE gobot_audit_head SET seq = 1, hash = %s", (digest,))
    services = make_services()
    session = GoSession(active=True, id="s1", scope="workspace", started_at_utc=at)
    assert [r["event"] for r in services.audit.session_records(session)] == ["GO_SESSION_START"]
    assert services.audit.verify_recent().ok and services.audit.verify().records == 1


@postgres_only
def test_a_windows_read_on_its_own_waits_for_no_writer(
    services: Services, store_settings: dict[str, Any]
) -> None:
    """While another replica holds the windows lock, a listing answers; a read inside a unit
    of work (a read-check-write) waits for the lock (here: gives up at the lock timeout)."""
    url = url_of(store_settings) + "%20-clock_timeout%3D200"
    uow = PgUnitOfWork.open(url)
    start = parse_utc("2026-01-01T09:00:00Z")
    try:
        with psycopg.connect(url_of(store_settings)) as other:
            other.execute(LOCK)
            assert uow.windows.between(start, start + timedelta(days=1)) == []
            assert uow.windows.all() == [] and uow.windows.get("w1") is None
            with pytest.raises(StoreUnavailable) as refused, uow:
                uow.windows.all()
            assert isinstance(refused.value.__cause__, psycopg.errors.LockNotAvailable)
    finally:
        close_database(url)
