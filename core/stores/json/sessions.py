"""JSON sessions and history, in the data directory's unit of work.

- `go_session.json`: `{"session": <latest session>}`, the original shape. In workspace scope
  this is the scope's own record; in channel scope it is a view of the latest session.
- `sessions/<scope>.json`: the latest session of each channel scope (one small file each, so a
  change costs the same however many channels there are).
- `go_active.json`: an index of active channel-scope sessions and their next due times. It may
  list a due time earlier than the session's (a burst of claims rewrites it at most once a
  second) but never a later one or a missing session: every reader checks an entry against its
  scope file.
- `go_history.jsonl`: ended sessions, one per line, appended (cost independent of length) in
  the order they end. A time range is found by binary search on the lines' end times (allowing
  `ORDER_SLACK` of disorder between the clocks of processes); a session by id from the start
  time its id carries (core/ids.py), or, for an id made before ids carried one, by one pass
  over the file.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.clock import format_utc, parse_utc
from core.errors import StoreCorrupted
from core.ids import id_time
from core.models import GoSession
from core.rules import (
    SESSION_DUE,
    is_latest,
    refuse_second_active,
    require_active,
    require_to_create,
    require_to_finish,
    require_to_replace,
    session_times,
)
from core.stores.json.datadir import DataDir, data_dir
from core.stores.json.journal import dumps_compact
from core.stores.json.lines import ORDER_SLACK, find_line, iter_lines_reversed, seek_time

log = logging.getLogger("gobot.store")
SESSION_FILE = "go_session.json"
SESSIONS_DIR = "sessions"
ACTIVE_INDEX = "go_active.json"
HISTORY_FILE = "go_history.jsonl"
WORKSPACE = "workspace"
INDEX_FLUSH_SECONDS = 1.0
_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
_ENDED = re.compile(rb'"ended_at_utc":"([^"]+)"')

IndexEntry = dict[str, Any]


def load_session(raw: Any, where: str) -> GoSession:
    try:
        return GoSession.model_validate(raw)
    except ValidationError as exc:
        raise StoreCorrupted(f"{where} does not hold a valid session") from exc


class _Loaded:
    """The session last read from each file, kept with the parsed JSON it came from: the data
    directory hands out the same parsed object while the file is unchanged, so a transaction
    that reads a session again (a check, then the change) validates it once. A session is
    frozen (a change is a `model_copy`), so sharing one is safe."""

    def __init__(self) -> None:
        self._by_file: dict[str, tuple[Any, GoSession]] = {}

    def session(self, raw: Any, where: str) -> GoSession:
        kept = self._by_file.get(where)
        if kept is not None and kept[0] is raw:
            return kept[1]
        session = load_session(raw, where)
        self._by_file[where] = (raw, session)
        return session


_DUE_KEYS = ("reminder", "watch")


@functools.lru_cache(maxsize=1 << 16)
def _parsed(text: str) -> datetime:
    """An index time, parsed once: a tick reads every active session's entry."""
    return parse_utc(text)


def _time(entry: IndexEntry, key: str) -> datetime | None:
    value = entry.get(key)
    return _parsed(value) if isinstance(value, str) else None


def _due(entry: IndexEntry, now: datetime) -> bool:
    times = {"next_due": _time(entry, "reminder"), "next_check": _time(entry, "watch")}
    return SESSION_DUE.holds(times, now)


def _earlier(new: IndexEntry, old: IndexEntry) -> bool:
    """Does `new` bring any due time forward of `old`?"""
    for key in _DUE_KEYS:
        mine, theirs = _time(new, key), _time(old, key)
        if mine is not None and (theirs is None or mine < theirs):
            return True
    return False


def _index_entry(session: GoSession) -> IndexEntry:
    due, check = session.reminder.next_due_utc, session.watch.next_check_utc
    return {
        "id": session.id,
        "reminder": format_utc(due) if due else None,
        "watch": format_utc(check) if check else None,
    }


def scope_file(sessions_dir: Path, scope: str) -> Path:
    kind, _, name = scope.partition(":")
    name = name if _SAFE.match(name) else name.encode("utf-8").hex()
    return sessions_dir / f"{kind}-{name}.json"


class JsonSessionStore:
    def __init__(self, directory: Path) -> None:
        self._dd: DataDir = data_dir(directory)
        root = self._dd.root
        self._session_path = root / SESSION_FILE
        self._sessions_dir = root / SESSIONS_DIR
        self._history_path = root / HISTORY_FILE
        self._index_path = root / ACTIVE_INDEX
        self._loaded = _Loaded()
        self._stale: set[str] = set()  # scopes whose index entry may run early
        self._flushed_at = 0.0

    # reading ---------------------------------------------------------------------------------
    def _index(self) -> dict[str, IndexEntry]:
        raw = self._dd.read_json(self._index_path)
        return raw if isinstance(raw, dict) else {}

    def _latest_session(self) -> GoSession | None:
        raw = self._dd.read_json(self._session_path)
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise StoreCorrupted(f"{SESSION_FILE} must hold a JSON object")
        value = raw.get("session")
        return self._loaded.session(value, SESSION_FILE) if value else None

    def _read_scope(self, scope: str) -> GoSession | None:
        if scope == WORKSPACE:
            latest = self._latest_session()
            return latest if latest and (latest.scope or WORKSPACE) == WORKSPACE else None
        path = scope_file(self._sessions_dir, scope)
        raw = self._dd.read_json(path)
        return None if raw is None else self._loaded.session(raw, self._dd.rel(path))

    def get(self, scope: str) -> GoSession | None:
        with self._dd.transaction():
            return self._read_scope(scope)

    def latest(self) -> GoSession | None:
        with self._dd.transaction():
            return self._latest_session()

    def _indexed(self, wanted: Callable[[IndexEntry], bool]) -> list[GoSession]:
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
                self._stale.add(scope)  # recomputed at the next index write
        return found

    def active(self) -> list[GoSession]:
        with self._dd.transaction():
            return self._indexed(lambda entry: True)

    def due(self, now: datetime) -> list[GoSession]:
        with self._dd.transaction():
            found = []
            for session in self._indexed(lambda entry: _due(entry, now)):
                if SESSION_DUE.holds(session_times(session), now):
                    found.append(session)
                else:
                    self._stale.add(session.scope or "")  # the entry ran early
            return found

    # writing ---------------------------------------------------------------------------------
    def _write(self, session: GoSession, payload: dict[str, Any] | None = None) -> None:
        """The scope's record, then the original-shape view of the latest session (`payload`:
        the session as JSON, if it was made already)."""
        scope = session.scope or WORKSPACE
        payload = payload or session.model_dump(mode="json")
        if scope != WORKSPACE:
            self._dd.write_json(scope_file(self._sessions_dir, scope), payload)
            latest = self._latest_session()
            if (
                latest is not None
                and latest.id != session.id
                and not self._is_newer(session, latest)
            ):
                return
        self._dd.write_json(self._session_path, {"session": payload})

    @staticmethod
    def _is_newer(session: GoSession, than: GoSession) -> bool:
        mine = session.ended_at_utc or session.started_at_utc
        theirs = than.ended_at_utc or than.started_at_utc
        return theirs is None or (mine is not None and mine >= theirs)

    def _write_index(self, scope: str, entry: IndexEntry | None) -> None:
        """Set (or with None remove) one entry, and recompute those left early meanwhile."""
        index = dict(self._index())
        for stale in self._stale - {scope}:
            session = self._read_scope(stale)
            if session is not None and session.active:
                index[stale] = _index_entry(session)
            else:
                index.pop(stale, None)
        self._stale.clear()
        if entry is None:
            index.pop(scope, None)
        else:
            index[scope] = entry
        self._dd.write_json(self._index_path, index)
        self._flushed_at = time.monotonic()

    def create(self, session: GoSession) -> None:
        scope = require_to_create(session)
        with self._dd.transaction():
            refuse_second_active(self._read_scope(scope))
            if scope != WORKSPACE:
                self._write_index(scope, _index_entry(session))
            self._write(session)

    def finish(self, ended: GoSession) -> None:
        scope = require_to_finish(ended)
        with self._dd.transaction():
            require_active(self._read_scope(scope), ended)
            payload = ended.model_dump(mode="json")
            self._dd.append_line(self._history_path, dumps_compact(payload))
            self._write(ended, payload)
            if scope != WORKSPACE:
                self._write_index(scope, None)

    def replace(self, session: GoSession) -> bool:
        scope = require_to_replace(session)
        with self._dd.transaction():
            if not is_latest(self._read_scope(scope), session):
                return False
            self._write(session)
            if scope != WORKSPACE and session.active:
                entry = _index_entry(session)
                if _earlier(entry, self._index().get(scope) or {}):
                    self._write_index(scope, entry)  # a late entry would miss a slot
                else:
                    self._stale.add(scope)
                    if time.monotonic() - self._flushed_at >= INDEX_FLUSH_SECONDS:
                        self._write_index(scope, entry)
            return True

    def find(self, session_id: str) -> GoSession | None:
        with self._dd.transaction():
            for session in self._indexed(lambda entry: True):
                if session.id == session_id:
                    return session
            for line in self._dd.appended(self._history_path):
                if (session := _parse_history(line)).id == session_id:
                    return session
            started = id_time(session_id)
            start = (
                0
                if started is None
                else seek_time(self._history_path, started - ORDER_SLACK, _ENDED)
            )
            needle = f'"id":{json.dumps(session_id)}'.encode()
            for raw in find_line(self._history_path, needle, start):
                session = _parse_history(raw.decode("utf-8", errors="replace"))
                if session.id == session_id:
                    return session
        return None

    def history(
        self,
        limit: int,
        scope: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
    ) -> list[GoSession]:
        found: list[GoSession] = []
        if limit <= 0:
            return found
        wanted = None if scope is None else f'"scope":{json.dumps(scope)}'
        skip = offset
        with self._dd.transaction():
            start = (
                0 if since is None else seek_time(self._history_path, since - ORDER_SLACK, _ENDED)
            )
            end = (
                None
                if until is None
                else seek_time(self._history_path, until + ORDER_SLACK, _ENDED)
            )
            staged = self._dd.appended(self._history_path)[::-1]
            for line in itertools.chain(staged, self._stored(start, end)):
                if not line.strip() or (wanted is not None and wanted not in line):
                    continue
                if scope is None and since is None and until is None and skip:
                    skip -= 1  # a line skipped unread
                    continue
                session = _parse_history(line)
                ended = session.ended_at_utc
                if scope is not None and session.scope != scope:
                    continue
                if ended is not None and (
                    (since is not None and ended < since) or (until is not None and ended >= until)
                ):
                    continue
                if skip:
                    skip -= 1
                    continue
                found.append(session)
                if len(found) == limit:
                    break
        return found

    def _stored(self, start: int, end: int | None) -> Iterator[str]:
        """Complete history lines from `end` back to `start`, newest first."""
        for text, complete in iter_lines_reversed(self._history_path, start, end):
            if complete:
                yield text


def _parse_history(line: str) -> GoSession:
    try:
        return GoSession.model_validate_json(line)
    except ValidationError as exc:
        raise StoreCorrupted(f"{HISTORY_FILE} has an invalid line") from exc
