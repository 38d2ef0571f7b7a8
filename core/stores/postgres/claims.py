"""`gobot_marks`: the keyed once-only claims, for every replica at once (the table kept its
name from when it held the weekly digests' marks only). A claim is one insert that a second
one of the same key finds done; it takes no lock beyond its row."""

from __future__ import annotations

from datetime import datetime

from core.stores.postgres.database import PgDatabase


class PgClaimStore:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def claimed(self, key: str) -> bool:
        with self._db.transaction() as db:
            row = db.execute("SELECT 1 FROM gobot_marks WHERE key = %s", (key,)).fetchone()
            return row is not None

    def claim(self, key: str, now: datetime) -> bool:
        with self._db.transaction() as db:
            row = db.execute(
                "INSERT INTO gobot_marks (key, at) VALUES (%s, %s) "
                "ON CONFLICT (key) DO NOTHING RETURNING key",
                (key, now),
            ).fetchone()
            return row is not None

    def all(self) -> dict[str, datetime]:
        with self._db.transaction() as db:
            rows = db.execute("SELECT key, at FROM gobot_marks ORDER BY key").fetchall()
        return {str(row["key"]): row["at"] for row in rows}

    def prune(self, before: datetime, prefix: str = "") -> int:
        with self._db.transaction() as db:
            cursor = db.execute(
                "DELETE FROM gobot_marks WHERE at < %s AND starts_with(key, %s)", (before, prefix)
            )
            return cursor.rowcount
