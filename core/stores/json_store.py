"""The embedded JSON backend: sessions, history, playbook progress.

Files in the data directory:
- `go_session.json`: `{"session": <latest session>}`, the original shape. In workspace scope
  this is the scope's own record; in channel scope it is a view of the latest session.
- `sessions/<scope>.json`: the latest session of each channel scope (one small file each, so a
  change costs the same however many channels there are).
- `go_active.json`: an index of active channel-scope sessions and their next due times. It may
  list more than is true (a crash, a lazily flushed update) but never less: every reader checks
  an entry against its scope file, and stale entries are dropped at the next write.
- `go_history.jsonl`: ended sessions, one per line, appended (cost independent of length).
- `go_progress.json`: playbook completions.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from core.errors import NoActiveSession, SessionAlreadyActive, StoreCorrupted
from core.models import GoSession, PlaybookProgress, StepCompletion
from core.stores.files import (
    DataDirLock,
    append_line,
    data_dir_lock,
    iter_lines_reversed,
    read_json,
    write_json_atomic,
)

log = logging.getLogger("gobot.store")
SESSION_FILE = "go_session.json"
SESSIONS_DIR = "sessions"
ACTIVE_INDEX = "go_active.json"
HISTORY_FILE = "go_history.jsonl"
PROGRESS_FILE = "go_progress.json"
WORKSPACE = "workspace"
INDEX_FLUSH_SECONDS = 1.0
_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")

_Model = TypeVar("_Model", GoSession, PlaybookProgress)


def _load_model(model: type[_Model], raw: Any, path: Path) -> _Model:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise StoreCorrupted(f"{path} does not hold a valid {model.__name__}: {exc}") from exc


def _read_json_file(path: Path) -> Any | None:
    try:
        return read_json(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreCorrupted(f"{path} is not valid JSON: {exc}") from exc


def _due(entry: dict[str, Any], now_utc: str) -> bool:
    return any(entry.get(key) and entry[key] <= now_utc for key in ("reminder", "watch"))


def _earlier(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Does `new` bring any due time forward of `old`?"""
    return any(
        new.get(key) and (not old.get(key) or new[key] < old[key]) for key in ("reminder", "watch")
    )


def _index_entry(session: GoSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "reminder": session.reminder.next_due_utc,
        "watch": session.watch.next_check_utc,
    }


class _CachedFile:
    """A parsed JSON file, re-read only when the file changed (atomic writes make a new inode)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: tuple[int, int, int] | None = None
        self._value: Any = None

    def read(self) -> Any | None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._key, self._value = None, None
            return None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if key != self._key:
            self._value, self._key = _read_json_file(self.path), key
        return self._value


class JsonSessionStore:
    def __init__(self, data_dir: Path) -> None:
        self._dir = data_dir
        self._lock: DataDirLock = data_dir_lock(data_dir)
        self._session_path = data_dir / SESSION_FILE
        self._sessions_dir = data_dir / SESSIONS_DIR
        self._history_path = data_dir / HISTORY_FILE
        self._latest = _CachedFile(self._session_path)
        self._index_file = _CachedFile(data_dir / ACTIVE_INDEX)
        self._index_changes: set[str] = set()  # scopes whose index entry to recompute
        self._must_flush = False
        self._flushed_at = 0.0

    # transactions ------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The data-dir lock; index updates gathered inside are written at the end: at once
        when an entry must go (an ended session), else at most every INDEX_FLUSH_SECONDS (an
        entry left early only costs a file read, so a burst of claims rewrites it once)."""
        with self._lock:
            try:
                yield
            finally:
                if self._lock.depth == 1:
                    self._maybe_flush()

    def _maybe_flush(self) -> None:
        if self._index_changes and (
            self._must_flush or time.monotonic() - self._flushed_at >= INDEX_FLUSH_SECONDS
        ):
            self._flush_index()

    def _flush_index(self, new_entry: tuple[str, dict[str, Any]] | None = None) -> None:
        """Write the index with every noted scope recomputed from its file now (a note may be
        older than another process's latest write), plus `new_entry` as given: a created
        session, listed before its file exists."""
        index = dict(self._index())
        for scope in self._index_changes:
            session = self._read_scope(scope)
            if session is not None and session.active:
                index[scope] = _index_entry(session)
            else:
                index.pop(scope, None)
        self._index_changes.clear()
        self._must_flush = False
        self._flushed_at = time.monotonic()
        if new_entry is not None:
            index[new_entry[0]] = new_entry[1]
        write_json_atomic(self._index_file.path, index)

    # reading ---------------------------------------------------------------------------------
    def _index(self) -> dict[str, dict[str, Any]]:
        raw = self._index_file.read()
        return raw if isinstance(raw, dict) else {}

    def _scope_path(self, scope: str) -> Path:
        kind, _, name = scope.partition(":")
        name = name if _SAFE.match(name) else name.encode("utf-8").hex()
        return self._sessions_dir / f"{kind}-{name}.json"

    def _latest_session(self) -> GoSession | None:
        raw = self._latest.read()
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise StoreCorrupted(f"{self._session_path} must hold a JSON object")
        value = raw.get("session")
        return _load_model(GoSession, value, self._session_path) if value else None

    def _read_scope(self, scope: str) -> GoSession | None:
        if scope == WORKSPACE:
            latest = self._latest_session()
            return latest if latest and (latest.scope or WORKSPACE) == WORKSPACE else None
        path = self._scope_path(scope)
        raw = _read_json_file(path)
        return None if raw is None else _load_model(GoSession, raw, path)

    def get(self, scope: str) -> GoSession | None:
        with self._lock:
            return self._read_scope(scope)

    def latest(self) -> GoSession | None:
        with self._lock:
            return self._latest_session()

    def _indexed(self, wanted: Any) -> list[GoSession]:
        """Active sessions whose index entry passes `wanted`, checked against their files."""
        found: list[GoSession] = []
        workspace = self._read_scope(WORKSPACE)
        if workspace is not None and workspace.active and wanted(_index_entry(workspace)):
            found.append(workspace)
        for scope, entry in self._index().items():
            if not wanted(entry):
                continue
            try:
                session = self._read_scope(scope)
            except StoreCorrupted:
                log.exception("skipping unreadable session of %s; the others go on", scope)
                continue
            if session is not None and session.active and session.id == entry.get("id"):
                found.append(session)
            else:
                self._index_changes.add(scope)  # recomputed at the next write
        return found

    def active(self) -> list[GoSession]:
        with self._lock:
            return self._indexed(lambda entry: True)

    def due(self, now_utc: str) -> list[GoSession]:
        with self.transaction():
            found = []
            for session in self._indexed(lambda entry: _due(entry, now_utc)):
                if _due(_index_entry(session), now_utc):
                    found.append(session)
                else:
                    self._index_changes.add(session.scope or "")  # the entry ran early
            return found

    # writing ---------------------------------------------------------------------------------
    def _write(self, session: GoSession) -> None:
        """The scope's record, then the original-shape view of the latest session."""
        scope = session.scope or WORKSPACE
        payload = session.model_dump(mode="json")
        if scope != WORKSPACE:
            self._sessions_dir.mkdir(exist_ok=True)
            write_json_atomic(self._scope_path(scope), payload)
            latest = self._latest_session()
            if (
                latest is not None
                and latest.id != session.id
                and not self._is_newer(session, latest)
            ):
                return
        write_json_atomic(self._session_path, {"session": payload})

    @staticmethod
    def _is_newer(session: GoSession, than: GoSession) -> bool:
        mine = session.ended_at_utc or session.started_at_utc or ""
        theirs = than.ended_at_utc or than.started_at_utc or ""
        return mine >= theirs

    def create(self, session: GoSession) -> None:
        if not session.active or not session.scope:
            raise ValueError("create() takes an active session with a scope")
        with self.transaction():
            current = self._read_scope(session.scope)
            if current is not None and current.active:
                raise SessionAlreadyActive.about(current)
            if session.scope != WORKSPACE:
                # The index first: it may list more than is true, never less.
                self._flush_index((session.scope, _index_entry(session)))
            self._write(session)

    def finish(self, ended: GoSession) -> None:
        if ended.active or not ended.scope:
            raise ValueError("finish() takes an ended session with a scope")
        with self.transaction():
            current = self._read_scope(ended.scope)
            if current is None or not current.active or current.id != ended.id:
                raise NoActiveSession("The session was already ended.")
            # A crash between these writes leaves the session active with its ended form
            # already in history; the retried end finds it there and does not append it twice.
            if self._last_history_id() != ended.id:
                append_line(self._history_path, ended.model_dump_json())
            self._write(ended)
            if ended.scope != WORKSPACE:
                self._index_changes.add(ended.scope)
                self._must_flush = True

    def replace(self, session: GoSession) -> bool:
        if not session.scope:
            raise ValueError("replace() takes a session with a scope")
        with self.transaction():
            current = self._read_scope(session.scope)
            if current is None or current.id != session.id:
                return False
            self._write(session)
            if session.scope != WORKSPACE:
                self._index_changes.add(session.scope)
                if _earlier(_index_entry(session), self._index().get(session.scope) or {}):
                    self._must_flush = True  # a late index entry would miss a slot
            return True

    def _last_history_id(self) -> str | None:
        for line, complete in iter_lines_reversed(self._history_path):
            if complete and line.strip():
                return str(json.loads(line).get("id"))
        return None

    def history(self, limit: int, scope: str | None = None) -> list[GoSession]:
        found: list[GoSession] = []
        seen: set[str | None] = set()
        if limit <= 0:
            return found
        for line, complete in iter_lines_reversed(self._history_path):
            if not complete or not line.strip():
                continue
            try:
                session = GoSession.model_validate_json(line)
            except ValidationError as exc:
                raise StoreCorrupted(f"{self._history_path} has an invalid line: {exc}") from exc
            if session.id in seen or (scope is not None and session.scope != scope):
                continue
            seen.add(session.id)
            found.append(session)
            if len(found) == limit:
                break
        return found


class JsonProgressStore:
    def __init__(self, data_dir: Path) -> None:
        self._lock = data_dir_lock(data_dir)
        self._path = data_dir / PROGRESS_FILE

    def transaction(self) -> DataDirLock:
        return self._lock

    def load(self) -> PlaybookProgress:
        with self._lock:
            raw = _read_json_file(self._path)
            if raw is None:
                return PlaybookProgress()
            return _load_model(PlaybookProgress, raw, self._path)

    def mark_done(self, step_id: str, completion: StepCompletion) -> StepCompletion | None:
        with self._lock:
            progress = self.load()
            earlier = progress.completed.get(step_id)
            if earlier is not None:
                return earlier
            progress.completed[step_id] = completion
            write_json_atomic(self._path, progress.model_dump(mode="json"))
            return None

    def reset(self) -> None:
        with self._lock:
            write_json_atomic(self._path, PlaybookProgress().model_dump(mode="json"))
