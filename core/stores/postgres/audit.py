"""The audit chain in `gobot_audit`, one row per record (with its session's id, indexed), with
its head row, and `gobot_audit_verified`: the last record `verify_recent` checked."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core.audit import (
    ChainBroken,
    Verification,
    build_record,
    check_record,
    linked,
    verify_chain,
)
from core.models import AuditEvent, GoSession
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
                "INSERT INTO gobot_audit (seq, line, session_id) VALUES (%s, %s, %s)",
                (int(head["seq"]) + 1, line, event.session_id),
            )
            db.execute("UPDATE gobot_audit_head SET seq = seq + 1, hash = %s", (digest,))
            record: dict[str, Any] = json.loads(line)
            return record

    def lines(self) -> list[str]:
        with self._db.transaction() as db:
            rows = db.execute("SELECT line FROM gobot_audit ORDER BY seq").fetchall()
        return [str(row["line"]) for row in rows]

    def restore(self, lines: Iterable[str]) -> int:
        added = 0
        with self._db.transaction() as db:
            head = db.execute("SELECT seq, hash FROM gobot_audit_head FOR UPDATE").fetchone()
            assert head is not None
            seq, prev = int(head["seq"]), str(head["hash"])
            for line in lines:
                record = linked(line, seq, prev)
                seq, prev = seq + 1, str(record["hash"])
                db.execute(
                    "INSERT INTO gobot_audit (seq, line, session_id) VALUES (%s, %s, %s)",
                    (seq, line, record.get("session_id")),
                )
                added += 1
            db.execute("UPDATE gobot_audit_head SET seq = %s, hash = %s", (seq, prev))
        return added

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

    def verify_recent(self) -> Verification:
        # the verified mark is bookkeeping: a unit of work of its own (or part of the caller's)
        with self._db.own_unit() as db:
            mark = db.execute("SELECT seq, hash FROM gobot_audit_verified").fetchone()
            if mark is None:
                result = self.verify()
            else:
                seq, digest = int(mark["seq"]), str(mark["hash"])
                marked = db.execute(
                    "SELECT line FROM gobot_audit WHERE seq = %s", (seq,)
                ).fetchone()
                if marked is None or not _is_record(marked["line"], seq, digest):
                    result = self.verify()
                else:
                    head = db.execute("SELECT seq, hash FROM gobot_audit_head").fetchone()
                    rows = db.execute(
                        "SELECT line FROM gobot_audit WHERE seq > %s ORDER BY seq", (seq,)
                    ).fetchall()
                    if head is None:
                        return Verification(False, 0, "gobot_audit_head is missing")
                    result = verify_chain(
                        (row["line"] for row in rows),
                        int(head["seq"]),
                        str(head["hash"]),
                        after=(seq, digest),
                        first_line=seq + 1,
                    )
            if result.ok and result.records:  # the last record verified, not a later head
                last = db.execute(
                    "SELECT line FROM gobot_audit WHERE seq = %s", (result.records,)
                ).fetchone()
                if last is not None:
                    db.execute(
                        "INSERT INTO gobot_audit_verified (seq, hash) VALUES (%s, %s) "
                        "ON CONFLICT (one) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
                        (result.records, json.loads(last["line"])["hash"]),
                    )
        return result

    def session_records(self, session: GoSession) -> list[dict[str, Any]]:
        with self._db.transaction() as db:
            rows = db.execute(
                "SELECT line FROM gobot_audit WHERE session_id = %s ORDER BY seq", (session.id,)
            ).fetchall()
        return [json.loads(row["line"]) for row in rows]


def _is_record(line: str, seq: int, digest: str) -> bool:
    """Whether `line` is still the record `seq` with hash `digest`, unedited."""
    try:
        record = json.loads(line)
        check_record(line, seq, seq, str(record.get("prev")))
    except (ChainBroken, ValueError):
        return False
    return bool(record.get("hash") == digest)
