"""The embedded JSON backend: sessions, history, playbook progress and the audit chain.

Files in the data directory:
- `go_session.json`: `{"session": <latest session>, "scopes": {<scope>: <latest session>}}`;
  `session` keeps the original single-session shape for tools that read the file.
- `go_history.jsonl`: ended sessions, one per line, appended (cost independent of length).
- `go_progress.json`: playbook completions.
- `audit.log` + `audit.head`: see `core.audit`.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from core.errors import NoActiveSession, SessionAlreadyActive, StoreCorrupted
from core.models import GoSession, MessageRef, PlaybookProgress, StepCompletion
from core.stores.files import (
    append_line,
    data_dir_lock,
    iter_lines_reversed,
    read_json,
    write_json_atomic,
)

SESSION_FILE = "go_session.json"
HISTORY_FILE = "go_history.jsonl"
PROGRESS_FILE = "go_progress.json"


_Model = TypeVar("_Model", GoSession, PlaybookProgress)


def _load_model(model: type[_Model], raw: Any, path: Path) -> _Model:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise StoreCorrupted(f"{path} does not hold a valid {model.__name__}: {exc}") from exc


class JsonSessionStore:
    def __init__(self, data_dir: Path) -> None:
        self._dir = data_dir
        self._lock = data_dir_lock(data_dir)
        self._session_path = data_dir / SESSION_FILE
        self._history_path = data_dir / HISTORY_FILE

    def transaction(self) -> AbstractContextManager[object]:
        return self._lock

    def _read(self) -> tuple[GoSession | None, dict[str, GoSession]]:
        try:
            raw = read_json(self._session_path)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreCorrupted(f"{self._session_path} is not valid JSON: {exc}") from exc
        if raw is None:
            return None, {}
        if not isinstance(raw, dict):
            raise StoreCorrupted(f"{self._session_path} must hold a JSON object")
        latest = raw.get("session")
        session = _load_model(GoSession, latest, self._session_path) if latest else None
        scopes = {
            scope: _load_model(GoSession, value, self._session_path)
            for scope, value in (raw.get("scopes") or {}).items()
        }
        if session is not None and session.scope and session.scope not in scopes:
            scopes[session.scope] = session
        return session, scopes

    def _write(self, latest: GoSession, scopes: dict[str, GoSession]) -> None:
        write_json_atomic(
            self._session_path,
            {
                "session": latest.model_dump(mode="json"),
                "scopes": {key: value.model_dump(mode="json") for key, value in scopes.items()},
            },
        )

    def get(self, scope: str) -> GoSession | None:
        with self._lock:
            return self._read()[1].get(scope)

    def latest(self) -> GoSession | None:
        with self._lock:
            return self._read()[0]

    def active(self) -> list[GoSession]:
        with self._lock:
            return [session for session in self._read()[1].values() if session.active]

    def create(self, session: GoSession) -> None:
        if not session.active or not session.scope:
            raise ValueError("create() takes an active session with a scope")
        with self._lock:
            _, scopes = self._read()
            current = scopes.get(session.scope)
            if current is not None and current.active:
                raise SessionAlreadyActive.about(current)
            scopes[session.scope] = session
            self._write(session, scopes)

    def finish(self, ended: GoSession) -> None:
        if ended.active or not ended.scope:
            raise ValueError("finish() takes an ended session with a scope")
        with self._lock:
            _, scopes = self._read()
            current = scopes.get(ended.scope)
            if current is None or not current.active or current.id != ended.id:
                raise NoActiveSession("The session was already ended.")
            # A crash between these two writes leaves the session active with its ended form
            # already in history; the retried end finds it there and does not append it twice.
            if self._last_history_id() != ended.id:
                append_line(self._history_path, ended.model_dump_json())
            scopes[ended.scope] = ended
            self._write(ended, scopes)

    def attach_message(self, session: GoSession, message: MessageRef) -> GoSession | None:
        if not session.scope:
            raise ValueError("attach_message() takes a session with a scope")
        with self._lock:
            latest, scopes = self._read()
            current = scopes.get(session.scope)
            if current is None or current.id != session.id:
                return None
            updated = current.model_copy(update={"message": message})
            scopes[session.scope] = updated
            self._write(
                updated if latest and latest.id == session.id else latest or updated, scopes
            )
            return updated

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

    def transaction(self) -> AbstractContextManager[object]:
        return self._lock

    def load(self) -> PlaybookProgress:
        with self._lock:
            try:
                raw = read_json(self._path)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise StoreCorrupted(f"{self._path} is not valid JSON: {exc}") from exc
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
