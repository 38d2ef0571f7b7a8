"""`gobot_windows`: the planned GO windows, for every replica at once. A write, and a read inside a
unit of work, take one transaction-wide lock first, so that a read-check-write of windows (an
overlap check, a window read again before its message is owed) is atomic across replicas; a read
on its own (a listing, the calendar, the tick's look for what is due) takes no lock and waits
for no writer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from core.models import GoWindow
from core.stores.postgres.database import PgDatabase

LOCK = "SELECT pg_advisory_xact_lock(hashtext('gobot_windows'))"


class PgWindowStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def _read(self, sql: str, *params: object) -> list[dict[str, Any]]:
        """Rows of a read: under the lock inside a unit of work, without it on its own."""
        locked = self._db.in_transaction()
        with self._db.transaction() as db:
            if locked:
                db.execute(LOCK)
            return db.execute(sql, params).fetchall()

    def all(self) -> list[GoWindow]:
        rows = self._read("SELECT data FROM gobot_windows ORDER BY starts_at, id")
        return [GoWindow.model_validate(row["data"]) for row in rows]

    def between(self, start: datetime, end: datetime) -> list[GoWindow]:
        rows = self._read(
            "SELECT data FROM gobot_windows WHERE starts_at >= %s AND starts_at < %s "
            "ORDER BY starts_at, id",
            start,
            end,
        )
        return [GoWindow.model_validate(row["data"]) for row in rows]

    def get(self, window_id: str) -> GoWindow | None:
        rows = self._read("SELECT data FROM gobot_windows WHERE id = %s", window_id)
        return GoWindow.model_validate(rows[0]["data"]) if rows else None

    def put(self, window: GoWindow) -> None:
        with self._db.transaction() as db:
            db.execute(LOCK)
            db.execute(
                "INSERT INTO gobot_windows (id, starts_at, data) VALUES (%s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE "
                "SET starts_at = EXCLUDED.starts_at, data = EXCLUDED.data",
                (window.id, window.starts_at_utc, Jsonb(window.model_dump(mode="json"))),
            )
