"""`gobot_requests`: the signed requests acted on lately, for every replica at once."""

from __future__ import annotations

from datetime import datetime

from core.stores.postgres.database import PgDatabase
from core.timing import REPLAY_WINDOW


class PgRequestLedger:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def first(self, key: str, now: datetime) -> bool:
        with self._db.transaction() as db:
            db.execute("DELETE FROM gobot_requests WHERE until < %s", (now,))
            row = db.execute(
                "INSERT INTO gobot_requests (key, until) VALUES (%s, %s) "
                "ON CONFLICT (key) DO NOTHING RETURNING key",
                (key, now + REPLAY_WINDOW),
            ).fetchone()
            return row is not None
