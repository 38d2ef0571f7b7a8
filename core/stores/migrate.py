"""`gobot migrate --to postgres`: copy a JSON data dir into an empty PostgreSQL database.

One transaction: every session (history oldest first, then each scope's current one), the
playbook progress, the audit chain line for line (same bytes, same hashes: it still verifies),
the outbox (pending messages and where their sessions' snapshots landed), and the planned
windows with the weeks whose digest is owed. Refused, with
nothing copied, if the JSON chain does not verify or the database already holds gobot data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import StoreCorrupted
from core.models import GoSession, Posted
from core.stores.json import JsonUnitOfWork
from core.stores.json.audit import AUDIT_FILE
from core.stores.json.sessions import HISTORY_FILE, SESSION_FILE, SESSIONS_DIR, WORKSPACE
from core.stores.postgres import PgUnitOfWork


@dataclass
class Copied:
    sessions: int = 0
    steps: int = 0
    audit_records: int = 0
    outbox_items: int = 0
    windows: int = 0


def _complete_lines(path: Path) -> list[str]:
    """Every newline-terminated line (a torn last one, from a crash, is not a record)."""
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").split("\n")[:-1] if line.strip()]


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _json_sessions(data_dir: Path) -> list[GoSession]:
    """History oldest first, then the current session of every scope; each id once, newest
    form wins."""
    found: dict[str, GoSession] = {}
    for line in _complete_lines(data_dir / HISTORY_FILE):
        session = GoSession.model_validate_json(line)
        found[str(session.id)] = session
    latest = _read_json(data_dir / SESSION_FILE) or {}
    currents = [latest["session"]] if latest.get("session") else []
    scope_files = sorted((data_dir / SESSIONS_DIR).glob("*.json"))
    currents += [_read_json(path) for path in scope_files]
    for raw in currents:
        session = GoSession.model_validate(raw)
        if session.id:
            found.pop(str(session.id), None)
            found[str(session.id)] = session.model_copy(
                update={"scope": session.scope or WORKSPACE}
            )
    return list(found.values())


def copy_json_to_postgres(data_dir: Path, target: PgUnitOfWork) -> Copied:
    source = JsonUnitOfWork(data_dir)
    verification = source.audit.verify()
    if not verification.ok:
        raise StoreCorrupted(f"the JSON audit chain does not verify: {verification.problem}")
    copied = Copied()
    sessions, progress, outbox = target.sessions, target.progress, target.outbox
    with target.database.transaction() as db:
        row = db.execute(
            "SELECT (SELECT count(*) FROM gobot_sessions) + (SELECT count(*) FROM gobot_audit) "
            "+ (SELECT count(*) FROM gobot_progress) + (SELECT count(*) FROM gobot_outbox) AS n"
        ).fetchone()
        if row is None or int(row["n"]) > 0:
            raise StoreCorrupted("the database already holds gobot data: nothing was copied")
        live: set[str] = set()  # sessions whose messages may still be replied to or edited
        for session in _json_sessions(data_dir):
            sessions.insert(session)
            copied.sessions += 1
            if session.active and session.id:
                live.add(session.id)
        for step_id, completion in source.progress.load().completed.items():
            progress.mark_done(step_id, completion)
            copied.steps += 1
        for line in _complete_lines(data_dir / AUDIT_FILE):
            record = json.loads(line)
            db.execute(
                "INSERT INTO gobot_audit (seq, line, session_id) VALUES (%s, %s, %s)",
                (record["seq"], line, record.get("session_id")),
            )
            db.execute(
                "UPDATE gobot_audit_head SET seq = %s, hash = %s", (record["seq"], record["hash"])
            )
            copied.audit_records += 1
        pending = source.outbox.items()
        outbox.add(pending)
        for session_id in live | {item.session_id for item in pending}:
            posted = source.outbox.posted(session_id)
            if posted != Posted():
                outbox.set_posted(session_id, posted)
        copied.outbox_items = len(pending)
        for window in source.windows.all():
            target.windows.put(window)
            copied.windows += 1
        for key, at in source.windows.marks().items():
            target.windows.claim(key, at)
    return copied
