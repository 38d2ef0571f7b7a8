"""What only the PostgreSQL store has: migrations, the database's own guarantees, the chain
kept in rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from core.clock import parse_utc
from core.errors import SessionAlreadyActive, StoreCorrupted
from core.models import GoSession
from core.services import Services
from core.stores.postgres.database import MIGRATIONS, SCHEMA_VERSION, PgDatabase
from core.stores.postgres.sessions import PgSessionStore

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
        PgSessionStore(PgDatabase(url_of(store_settings))).create(second)
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
