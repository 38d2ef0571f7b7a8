"""The audit chain in `gobot_audit`, one row per record, with its head row."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from core.audit import Verification, build_record, verify_chain
from core.models import AuditEvent
from core.stores.postgres.database import PgDatabase


class PgAuditLog:
    """The same chain as `audit.log`, one row per record; the head row is both the lock that
    serializes appends and the guard against records cut off the end."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def append(self, event: AuditEvent, at: datetime) -> dict[str, Any]:
        with self._db.transaction() as db:
            head = db.execute("SELECT seq, hash FROM gobot_audit_head FOR UPDATE").fetchone()
            assert head is not None
            line, digest = build_record(event, int(head["seq"]) + 1, str(head["hash"]), at)
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
            rows = db.execute("SELECT line FROM gobot_audit ORDER BY seq").fetchall()
        if head is None:
            return Verification(False, 0, "gobot_audit_head is missing")
        return verify_chain((row["line"] for row in rows), int(head["seq"]), str(head["hash"]))
