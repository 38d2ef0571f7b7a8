"""Sessions and history in `gobot_sessions`. One active session per scope is enforced by a
partial unique index, not by Python; reads inside a unit of work lock the session row
(`FOR UPDATE`), so compare-and-set claims are atomic across replicas. "Due" is the SQL written
from core/rules.py's rule; the writes' rules (preconditions, one active per scope, end only the
active, replace only the latest) are core/rules.py's, enforced here by the statements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from core.models import GoSession
from core.rules import (
    SESSION_DUE,
    ended_already,
    refuse_second_active,
    require_to_create,
    require_to_finish,
    require_to_replace,
)
from core.stores.postgres.database import PgDatabase


def _session(row: dict[str, Any] | None) -> GoSession | None:
    return None if row is None else GoSession.model_validate(row["data"])


IS_DUE = SESSION_DUE.sql({"next_due": "next_due", "next_check": "next_check"})


class PgSessionStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def get(self, scope: str) -> GoSession | None:
        lock = " FOR UPDATE" if self._db.in_unit() else ""  # alone, a read holds no lock
        with self._db.transaction() as db:
            return _session(
                db.execute(
                    "SELECT data FROM gobot_sessions WHERE scope = %s "
                    f"ORDER BY changed DESC LIMIT 1{lock}",
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

    def due(self, now: datetime) -> list[GoSession]:
        with self._db.transaction() as db:
            rows = db.execute(
                f"SELECT data FROM gobot_sessions WHERE active AND {IS_DUE} ORDER BY changed",
                {"now": now},
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
        scope = require_to_create(session)
        with self._db.transaction() as db:
            try:
                with db.transaction():  # a savepoint: the unique index may refuse the row
                    self.insert(session)
                return
            except psycopg.errors.UniqueViolation as exc:
                refused = exc
            refuse_second_active(self.get(scope))
            raise refused  # not the rule's index after all

    def finish(self, ended: GoSession) -> None:
        require_to_finish(ended)
        with self._db.transaction() as db:
            row = db.execute(
                "UPDATE gobot_sessions SET active = false, changed = nextval('gobot_changes'), "
                "ended_at = %(ended_at)s, next_due = NULL, next_check = NULL, data = %(data)s "
                "WHERE id = %(id)s AND active RETURNING id",
                self._columns(ended),
            ).fetchone()
            if row is None:
                raise ended_already()

    def replace(self, session: GoSession) -> bool:
        require_to_replace(session)
        with self._db.transaction() as db:
            row = db.execute(
                "UPDATE gobot_sessions SET data = %(data)s, next_due = %(next_due)s, "
                "next_check = %(next_check)s WHERE id = %(id)s AND id = (SELECT id FROM "
                "gobot_sessions WHERE scope = %(scope)s ORDER BY changed DESC LIMIT 1) "
                "RETURNING id",
                self._columns(session),
            ).fetchone()
            return row is not None

    def find(self, session_id: str) -> GoSession | None:
        with self._db.transaction() as db:
            return _session(
                db.execute(
                    "SELECT data FROM gobot_sessions WHERE id = %s", (session_id,)
                ).fetchone()
            )

    def history(
        self,
        limit: int,
        scope: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
    ) -> list[GoSession]:
        if limit <= 0:
            return []
        where = ["NOT active"]
        if scope is not None:
            where.append("scope = %(scope)s")
        if since is not None:
            where.append("ended_at >= %(since)s")
        if until is not None:
            where.append("ended_at < %(until)s")
        query = sql.SQL(
            "SELECT data FROM gobot_sessions WHERE {} "
            "ORDER BY ended_at DESC, changed DESC LIMIT %(limit)s OFFSET %(offset)s"
        ).format(sql.SQL(" AND ").join(sql.SQL(clause) for clause in where))
        params = {"scope": scope, "since": since, "until": until, "limit": limit, "offset": offset}
        with self._db.transaction() as db:
            rows = db.execute(query, params)
            return [GoSession.model_validate(row["data"]) for row in rows]
