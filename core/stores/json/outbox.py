"""The JSON outbox: `outbox/<seq>.<session>.<kind>.<id>.json`, one small file per pending item,
so a lease or a delivery rewrites one item, not the queue; `outbox/threads/<session>.json`
remembers where each session's messages landed (the post, the playbook message). Lease and
retry follow `core.outbox`."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from core.errors import StoreCorrupted
from core.models import Posted
from core.outbox import Failed, OutboxItem, being_sent, is_ready, leased, retried, woken
from core.stores.json.datadir import DataDir, data_dir

OUTBOX_DIR = "outbox"
log = logging.getLogger("gobot.outbox")


class JsonOutbox:
    def __init__(self, directory: Path) -> None:
        self._dd: DataDir = data_dir(directory)
        self._dir = self._dd.root / OUTBOX_DIR
        self._threads = self._dir / "threads"
        self._last_seq = 0

    def _path(self, item: OutboxItem) -> Path:
        """`<seq>.<session>.<kind>.<id>.json`: order, and what `drop` needs, in the name."""
        return self._dir / f"{item.seq:020d}.{item.session_id}.{item.kind}.{item.id}.json"

    def _names(self) -> list[str]:
        return [name for name in self._dd.listdir(self._dir) if name.endswith(".json")]

    def _read(self, name: str) -> OutboxItem | None:
        try:
            raw = self._dd.read_json(self._dir / name)
            return None if raw is None else OutboxItem.model_validate(raw)
        except (StoreCorrupted, ValidationError):
            log.error("outbox item %s is unreadable; skipped", name)
            return None

    def items(self) -> list[OutboxItem]:
        """Every pending item, oldest first."""
        with self._dd.transaction():
            return [item for name in self._names() if (item := self._read(name)) is not None]

    def add(self, items: list[OutboxItem]) -> None:
        with self._dd.transaction():
            for item in items:
                self._last_seq = max(self._last_seq + 1, time.time_ns())
                item.seq = self._last_seq
                self._dd.write_json(self._path(item), item.model_dump(mode="json"))

    def ready(self, now: datetime, limit: int = 1000) -> list[OutboxItem]:
        with self._dd.transaction():
            heads: dict[str, str] = {}
            for name in self._names():  # oldest first: a session's first name is its head
                heads.setdefault(name.split(".")[1], name)
            found = []
            for name in heads.values():
                item = self._read(name)
                if item is not None and is_ready(item, now):
                    found.append(item)
                    if len(found) == limit:
                        break
            return found

    def ready_of(self, session_id: str, now: datetime) -> OutboxItem | None:
        with self._dd.transaction():
            head = next((n for n in self._names() if n.split(".")[1] == session_id), None)
            item = self._read(head) if head is not None else None
        return item if item is not None and is_ready(item, now) else None

    def _current(self, item: OutboxItem) -> OutboxItem | None:
        return self._read(self._path(item).name)

    def lease(self, item: OutboxItem, now: datetime, until: datetime) -> OutboxItem | None:
        with self._dd.transaction():
            current = self._current(item)
            taken = None if current is None else leased(current, now, until)
            if taken is not None:
                self._dd.write_json(self._path(taken), taken.model_dump(mode="json"))
            return taken

    def done(self, item: OutboxItem) -> None:
        with self._dd.transaction():
            if self._dd.exists(self._path(item)):
                self._dd.delete(self._path(item))

    def retry(
        self, item: OutboxItem, next_attempt: datetime, failure: Failed, told: bool = False
    ) -> None:
        with self._dd.transaction():
            current = self._current(item)
            if current is not None:
                updated = retried(current, next_attempt, failure, told)
                self._dd.write_json(self._path(updated), updated.model_dump(mode="json"))

    def wake(self, channel: str, now: datetime) -> int:
        with self._dd.transaction():
            waiting = [item for item in self.items() if item.channel == channel]
            for item in waiting:
                self._dd.write_json(self._path(item), woken(item, now).model_dump(mode="json"))
            return len(waiting)

    def drop(self, session_id: str, kinds: tuple[str, ...], now: datetime) -> int:
        with self._dd.transaction():
            dropped = 0
            for name in self._names():
                if name.split(".")[1:3] not in ([session_id, kind] for kind in kinds):
                    continue
                item = self._read(name)
                if item is not None and being_sent(item, now):
                    continue  # being sent: it stays ahead of what follows
                self._dd.delete(self._dir / name)
                dropped += 1
            return dropped

    def depth(self) -> int:
        with self._dd.transaction():
            return len(self._names())

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
