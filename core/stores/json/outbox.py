"""The JSON outbox: `outbox/q-<session>.json`, the items one session (or window, digest, ...)
owes, in the order they go, as a JSON list: a change that owes two messages writes one file,
and a lease or a delivery rewrites one small queue in place, not a queue of every session;
`outbox/threads/<session>.json` remembers where each session's messages landed (the post, the
playbook message). Items written one file each by an earlier version
(`outbox/<seq>.<session>.<kind>.<id>.json`) are read and sent before their session's queue,
and go as they are delivered. Lease and retry follow `core.outbox`."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.clock import parse_utc
from core.errors import StoreCorrupted
from core.models import MessageRef, Posted
from core.outbox import (
    BEING_SENT,
    Failed,
    OutboxItem,
    being_sent,
    is_ready,
    leased,
    retried,
    woken,
)
from core.rules import Times
from core.stores.json.datadir import DataDir, data_dir

OUTBOX_DIR = "outbox"
QUEUE_PREFIX = "q-"
_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
log = logging.getLogger("gobot.outbox")


def _dump(item: OutboxItem) -> dict[str, Any]:
    return item.model_dump(mode="json")


def _id(raw: Any) -> Any:
    return raw.get("id") if isinstance(raw, dict) else None


def _load(raw: Any, queue: Path | None) -> OutboxItem | None:
    """An item of a queue as stored, read; None (and said) if it cannot be."""
    try:
        return OutboxItem.model_validate(raw)
    except ValidationError:
        log.error("an item of outbox queue %s is unreadable; skipped", queue and queue.name)
        return None


class JsonOutbox:
    def __init__(self, directory: Path) -> None:
        self._dd: DataDir = data_dir(directory)
        self._dir = self._dd.root / OUTBOX_DIR
        self._threads = self._dir / "threads"
        self._last_seq = 0

    # where items are -------------------------------------------------------------------------
    def _queue_path(self, session_id: str) -> Path:
        name = session_id if _SAFE.match(session_id) else session_id.encode("utf-8").hex()
        return self._dir / f"{QUEUE_PREFIX}{name}.json"

    def _names(self) -> list[str]:
        return [name for name in self._dd.listdir(self._dir) if name.endswith(".json")]

    def _queue_raw(self, path: Path) -> list[Any]:
        try:
            raw = self._dd.read_json(path)
        except StoreCorrupted:
            raw = None
            log.error("outbox queue %s is unreadable; skipped", path.name)
        return raw if isinstance(raw, list) else []

    def _queue(self, path: Path) -> list[OutboxItem]:
        """A queue's items, in order (an unreadable one is skipped, and said)."""
        return [item for raw in self._queue_raw(path) if (item := _load(raw, path)) is not None]

    def _save(self, path: Path, raws: list[Any]) -> None:
        """Keep a queue as read (each item as stored) or, emptied, remove it."""
        if raws:
            self._dd.write_json(path, raws)
        elif self._dd.exists(path):
            self._dd.delete(path)

    def _legacy_path(self, item: OutboxItem) -> Path:
        """`<seq>.<session>.<kind>.<id>.json`: an item written one file each."""
        return self._dir / f"{item.seq:020d}.{item.session_id}.{item.kind}.{item.id}.json"

    def _legacy_read(self, name: str) -> OutboxItem | None:
        try:
            raw = self._dd.read_json(self._dir / name)
            return None if raw is None else OutboxItem.model_validate(raw)
        except (StoreCorrupted, ValidationError):
            log.error("outbox item %s is unreadable; skipped", name)
            return None

    def _sessions(self) -> Iterator[tuple[str | None, Path | None, list[str]]]:
        """Per session with items owed: its id (None: read it from its queue), its queue file
        (None: it has none) and the names of its items written one file each, oldest first."""
        legacy: dict[str, list[str]] = {}
        queues: list[str] = []
        for name in self._names():
            if name.startswith(QUEUE_PREFIX):
                queues.append(name)
            else:
                legacy.setdefault(name.split(".")[1], []).append(name)
        for session_id, names in legacy.items():
            queue = self._queue_path(session_id)
            yield session_id, queue if queue.name in queues else None, names
            if queue.name in queues:
                queues.remove(queue.name)
        for name in queues:
            yield None, self._dir / name, []

    def _of(self, session_id: str) -> tuple[list[str], Path]:
        """A session's items written one file each (their names) and its queue file."""
        prefix = f".{session_id}."
        names = [n for n in self._names() if not n.startswith(QUEUE_PREFIX) and prefix in n]
        return [n for n in names if n.split(".")[1] == session_id], self._queue_path(session_id)

    def _head(self, legacy: list[str], queue: Path | None) -> OutboxItem | None:
        for name in legacy:
            if (item := self._legacy_read(name)) is not None:
                return item
        raws = [] if queue is None else self._queue_raw(queue)
        return next((item for raw in raws if (item := _load(raw, queue)) is not None), None)

    def _put(self, updated: OutboxItem) -> bool:
        """Write `updated` over the item of its id where it is; False if it is gone."""
        path = self._queue_path(updated.session_id)
        raws = self._queue_raw(path)
        for index, raw in enumerate(raws):
            if _id(raw) == updated.id:
                self._save(path, [*raws[:index], _dump(updated), *raws[index + 1 :]])
                return True
        legacy = self._legacy_path(updated)
        if self._dd.exists(legacy):
            self._dd.write_json(legacy, _dump(updated))
            return True
        return False

    def _current(self, item: OutboxItem) -> OutboxItem | None:
        path = self._queue_path(item.session_id)
        for raw in self._queue_raw(path):
            if _id(raw) == item.id:
                return _load(raw, path)
        return self._legacy_read(self._legacy_path(item).name)

    # the port --------------------------------------------------------------------------------
    def items(self) -> list[OutboxItem]:
        """Every pending item, oldest first."""
        with self._dd.transaction():
            found: list[OutboxItem] = []
            for _, queue, legacy in self._sessions():
                found.extend(item for n in legacy if (item := self._legacy_read(n)) is not None)
                found.extend(self._queue(queue) if queue is not None else [])
            return sorted(found, key=lambda item: item.seq)

    def add(self, items: list[OutboxItem]) -> None:
        with self._dd.transaction():
            owed: dict[str, list[dict[str, Any]]] = {}
            for item in items:
                self._last_seq = max(self._last_seq + 1, time.time_ns())
                item.seq = self._last_seq
                owed.setdefault(item.session_id, []).append(_dump(item))
            for session_id, dumped in owed.items():
                path = self._queue_path(session_id)
                self._dd.write_json(path, [*self._queue_raw(path), *dumped])

    def ready(self, now: datetime, limit: int = 1000) -> list[OutboxItem]:
        with self._dd.transaction():
            heads = [
                head
                for _, queue, legacy in self._sessions()
                if (head := self._head(legacy, queue)) is not None
            ]
        found = [item for item in sorted(heads, key=lambda item: item.seq) if is_ready(item, now)]
        return found[:limit]

    def ready_of(self, session_id: str, now: datetime) -> OutboxItem | None:
        with self._dd.transaction():
            legacy, queue = self._of(session_id)
            item = self._head(legacy, queue)
        return item if item is not None and is_ready(item, now) else None

    def lease(self, item: OutboxItem, now: datetime, until: datetime) -> OutboxItem | None:
        with self._dd.transaction():
            current = self._current(item)
            taken = None if current is None else leased(current, now, until)
            if taken is not None:
                self._put(taken)
            return taken

    def done(self, item: OutboxItem) -> None:
        with self._dd.transaction():
            path = self._queue_path(item.session_id)
            raws = self._queue_raw(path)
            rest = [raw for raw in raws if _id(raw) != item.id]
            if len(rest) != len(raws):
                self._save(path, rest)
            elif self._dd.exists(self._legacy_path(item)):
                self._dd.delete(self._legacy_path(item))

    def retry(
        self, item: OutboxItem, next_attempt: datetime, failure: Failed, told: bool = False
    ) -> None:
        with self._dd.transaction():
            current = self._current(item)
            if current is not None:
                self._put(retried(current, next_attempt, failure, told))

    def wake(self, channel: str, now: datetime) -> int:
        with self._dd.transaction():
            waiting = [item for item in self.items() if item.channel == channel]
            for item in waiting:
                self._put(woken(item, now))
            return len(waiting)

    def drop(self, session_id: str, kinds: tuple[str, ...], now: datetime) -> int:
        with self._dd.transaction():
            legacy, path = self._of(session_id)
            dropped = 0
            for name in legacy:
                if name.split(".")[2] not in kinds:
                    continue
                item = self._legacy_read(name)
                if item is not None and being_sent(item, now):
                    continue  # being sent: it stays ahead of what follows
                self._dd.delete(self._dir / name)
                dropped += 1
            raws = self._queue_raw(path)
            kept = [raw for raw in raws if not self._droppable(raw, path, kinds, now)]
            if len(kept) != len(raws):
                self._save(path, kept)
            return dropped + len(raws) - len(kept)

    @staticmethod
    def _droppable(raw: Any, path: Path, kinds: tuple[str, ...], now: datetime) -> bool:
        """An item of one of `kinds` that no sender holds: `BEING_SENT` judged on its lease as
        stored (the item is read whole only if that cannot be read; one that cannot be read
        goes)."""
        if not isinstance(raw, dict) or raw.get("kind") not in kinds:
            return False
        lease = raw.get("lease_until_utc")
        if lease is None or isinstance(lease, str):
            with contextlib.suppress(ValueError):
                times: Times = {"lease_until": None if lease is None else parse_utc(lease)}
                return not BEING_SENT.holds(times, now)
        item = _load(raw, path)
        return item is None or not being_sent(item, now)

    def depth(self) -> int:
        with self._dd.transaction():
            return sum(
                len(legacy) + (len(self._queue_raw(queue)) if queue is not None else 0)
                for _, queue, legacy in self._sessions()
            )

    def set_posted(self, session_id: str, posted: Posted) -> None:
        with self._dd.transaction():
            self._dd.write_json(self._threads / f"{session_id}.json", posted.model_dump())

    def posted(self, session_id: str) -> Posted:
        with self._dd.transaction():
            try:
                raw = self._dd.read_json(self._threads / f"{session_id}.json")
            except StoreCorrupted:
                return Posted()
        return Posted() if raw is None else Posted.model_validate(raw)

    def posts(self, session_ids: Sequence[str]) -> dict[str, MessageRef]:
        with self._dd.transaction():
            found = {session_id: self.posted(session_id).post for session_id in session_ids}
        return {session_id: post for session_id, post in found.items() if post is not None}
