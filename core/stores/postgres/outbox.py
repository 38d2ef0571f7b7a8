"""The outbox in `gobot_outbox`: leases are row locks taken with `SKIP LOCKED`; lease and retry
follow `core.outbox`, and its readiness rules are written into the SQL (core/rules.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core.models import MessageRef, Posted
from core.outbox import BEING_SENT, READY, Failed, OutboxItem, leased, retried, woken
from core.rules import Not
from core.stores.postgres.database import PgDatabase

COLUMNS = {"next_attempt": "next_attempt", "lease_until": "lease_until"}
IS_READY = READY.sql(COLUMNS)
NOT_BEING_SENT = Not(BEING_SENT).sql(COLUMNS)


class PgOutbox:
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    @staticmethod
    def _item(row: dict[str, Any]) -> OutboxItem:
        return OutboxItem.model_validate({**row["data"], "seq": row["seq"]})

    def items(self) -> list[OutboxItem]:
        with self._db.transaction() as db:
            rows = db.execute("SELECT seq, data FROM gobot_outbox ORDER BY seq").fetchall()
        return [self._item(row) for row in rows]

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

    def ready(self, now: datetime, limit: int = 1000) -> list[OutboxItem]:
        with self._db.transaction() as db:
            rows = db.execute(
                "SELECT * FROM (SELECT DISTINCT ON (session_id) seq, next_attempt, lease_until, "
                "data FROM gobot_outbox ORDER BY session_id, seq) AS heads "
                f"WHERE {IS_READY} ORDER BY seq LIMIT %(limit)s",
                {"now": now, "limit": limit},
            )
            return [self._item(row) for row in rows]

    def ready_of(self, session_id: str, now: datetime) -> OutboxItem | None:
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT * FROM (SELECT seq, next_attempt, lease_until, data FROM gobot_outbox "
                "WHERE session_id = %(session)s ORDER BY seq LIMIT 1) AS head "
                f"WHERE {IS_READY}",
                {"session": session_id, "now": now},
            ).fetchone()
        return self._item(row) if row is not None else None

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

    def lease(self, item: OutboxItem, now: datetime, until: datetime) -> OutboxItem | None:
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT seq, data FROM gobot_outbox WHERE id = %(id)s AND "
                f"{NOT_BEING_SENT} FOR UPDATE SKIP LOCKED",
                {"id": item.id, "now": now},
            ).fetchone()
            taken = None if row is None else leased(self._item(row), now, until)
            if taken is not None:
                self._write(db, taken)
            return taken

    def done(self, item: OutboxItem) -> None:
        with self._db.transaction() as db:
            db.execute("DELETE FROM gobot_outbox WHERE id = %s", (item.id,))

    def retry(
        self, item: OutboxItem, next_attempt: datetime, failure: Failed, told: bool = False
    ) -> None:
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT seq, data FROM gobot_outbox WHERE id = %s FOR UPDATE", (item.id,)
            ).fetchone()
            if row is not None:
                self._write(db, retried(self._item(row), next_attempt, failure, told))

    def wake(self, channel: str, now: datetime) -> int:
        with self._db.transaction() as db:
            rows = db.execute(
                "SELECT seq, data FROM gobot_outbox WHERE data->>'channel' = %s FOR UPDATE",
                (channel,),
            ).fetchall()
            for row in rows:
                self._write(db, woken(self._item(row), now))
            return len(rows)

    def drop(self, session_id: str, kinds: tuple[str, ...], now: datetime) -> int:
        """Leased items stay: they are being sent, ahead of what follows."""
        with self._db.transaction() as db:
            cursor = db.execute(
                "DELETE FROM gobot_outbox WHERE session_id = %(session)s AND kind = ANY(%(kinds)s) "
                f"AND {NOT_BEING_SENT}",
                {"session": session_id, "kinds": list(kinds), "now": now},
            )
            return cursor.rowcount

    def depth(self) -> int:
        with self._db.transaction() as db:
            row = db.execute("SELECT count(*) AS n FROM gobot_outbox").fetchone()
            return int(row["n"]) if row else 0

    def set_posted(self, session_id: str, posted: Posted) -> None:
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO gobot_threads (session_id, data) VALUES (%s, %s) "
                "ON CONFLICT (session_id) DO UPDATE SET data = EXCLUDED.data",
                (session_id, Jsonb(posted.model_dump())),
            )

    def posted(self, session_id: str) -> Posted:
        with self._db.transaction() as db:
            row = db.execute(
                "SELECT data FROM gobot_threads WHERE session_id = %s", (session_id,)
            ).fetchone()
            return Posted() if row is None else Posted.model_validate(row["data"])

    def posts(self, session_ids: Sequence[str]) -> dict[str, MessageRef]:
        with self._db.transaction() as db:
            rows = db.execute(
                "SELECT session_id, data FROM gobot_threads WHERE session_id = ANY(%s)",
                (list(session_ids),),
            ).fetchall()
        found = {row["session_id"]: Posted.model_validate(row["data"]).post for row in rows}
        return {session_id: post for session_id, post in found.items() if post is not None}
