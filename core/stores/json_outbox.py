"""The JSON outbox: `outbox/<seq>.<session>.<kind>.<id>.json`, one small file per pending item,
so a lease or a
delivery rewrites one item, not the queue; `outbox/threads/<session>.json` remembers where each
session's snapshot landed."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from core.models import MessageRef
from core.outbox import OutboxItem
from core.stores.files import (
    data_dir_lock,
    fsync_dir,
    read_json,
    write_json_atomic,
)

OUTBOX_DIR = "outbox"
log = logging.getLogger("gobot.outbox")


class JsonOutbox:
    def __init__(self, data_dir: Path) -> None:
        self._lock = data_dir_lock(data_dir)
        self._dir = data_dir / OUTBOX_DIR
        self._threads = self._dir / "threads"
        self._last_seq = 0

    def _path(self, item: OutboxItem) -> Path:
        """`<seq>.<session>.<kind>.<id>.json`: order, and what `drop` needs, in the name."""
        return self._dir / f"{item.seq:020d}.{item.session_id}.{item.kind}.{item.id}.json"

    def items(self) -> list[OutboxItem]:
        """Every pending item, oldest first."""
        with self._lock:
            return self._items()

    def _items(self) -> list[OutboxItem]:
        try:
            names = sorted(name for name in os.listdir(self._dir) if name.endswith(".json"))
        except FileNotFoundError:
            return []
        items = []
        for name in names:
            try:
                raw = read_json(self._dir / name)
                if raw is not None:
                    items.append(OutboxItem.model_validate(raw))
            except (ValueError, UnicodeDecodeError):
                log.exception("outbox item %s is unreadable; set aside as .bad", name)
                (self._dir / name).rename(self._dir / f"{name}.bad")
        return items

    def add(self, items: list[OutboxItem]) -> None:
        if not items:
            return
        with self._lock:
            self._dir.mkdir(exist_ok=True)
            for item in items:
                self._last_seq = max(self._last_seq + 1, time.time_ns())
                item.seq = self._last_seq
                write_json_atomic(self._path(item), item.model_dump(mode="json"), sync_dir=False)
            fsync_dir(self._dir)

    def ready(self, now_utc: str, limit: int = 1000) -> list[OutboxItem]:
        with self._lock:
            heads: dict[str, OutboxItem] = {}
            for item in self._items():
                heads.setdefault(item.session_id, item)
        return [
            item
            for item in heads.values()
            if item.next_attempt_utc <= now_utc
            and (item.lease_until_utc is None or item.lease_until_utc <= now_utc)
        ][:limit]

    def _current(self, item: OutboxItem) -> OutboxItem | None:
        raw = read_json(self._path(item))
        return None if raw is None else OutboxItem.model_validate(raw)

    def lease(self, item: OutboxItem, now_utc: str, until_utc: str) -> OutboxItem | None:
        with self._lock:
            current = self._current(item)
            if current is None or (
                current.lease_until_utc is not None and current.lease_until_utc > now_utc
            ):
                return None
            leased = current.model_copy(
                update={
                    "lease_until_utc": until_utc,
                    "attempts": current.attempts + 1,
                    # An expired lease: its sender died mid-attempt, and may have posted.
                    "maybe_sent": current.maybe_sent or current.lease_until_utc is not None,
                }
            )
            write_json_atomic(self._path(leased), leased.model_dump(mode="json"), sync_dir=False)
            return leased

    def done(self, item: OutboxItem) -> None:
        with self._lock:
            self._path(item).unlink(missing_ok=True)
            fsync_dir(self._dir)

    def retry(self, item: OutboxItem, next_attempt_utc: str, error: str, maybe_sent: bool) -> None:
        with self._lock:
            current = self._current(item)
            if current is None:
                return
            updated = current.model_copy(
                update={
                    "next_attempt_utc": next_attempt_utc,
                    "lease_until_utc": None,
                    "last_error": error,
                    "maybe_sent": current.maybe_sent or maybe_sent,
                }
            )
            write_json_atomic(self._path(updated), updated.model_dump(mode="json"))

    def drop(self, session_id: str, kinds: tuple[str, ...], now_utc: str) -> int:
        with self._lock:
            try:
                names = os.listdir(self._dir)
            except FileNotFoundError:
                return 0
            candidates = [
                name
                for name in names
                if name.endswith(".json")
                and name.split(".")[1:3] in ([session_id, kind] for kind in kinds)
            ]
            dropped = 0
            for name in candidates:
                raw = read_json(self._dir / name)
                lease = (raw or {}).get("lease_until_utc")
                if lease is not None and lease > now_utc:
                    continue  # being sent: it stays ahead of what follows
                (self._dir / name).unlink(missing_ok=True)
                dropped += 1
            if dropped:
                fsync_dir(self._dir)
            return dropped

    def depth(self) -> int:
        try:
            return sum(name.endswith(".json") for name in os.listdir(self._dir))
        except FileNotFoundError:
            return 0

    def set_thread(self, session_id: str, message: MessageRef) -> None:
        with self._lock:
            self._threads.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self._threads / f"{session_id}.json", message.model_dump())

    def thread(self, session_id: str) -> MessageRef | None:
        try:
            raw = read_json(self._threads / f"{session_id}.json")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return None if raw is None else MessageRef.model_validate(raw)
