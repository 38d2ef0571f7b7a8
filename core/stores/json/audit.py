"""`audit.log` (JSON lines, hash-chained) and `audit.head` (the last record's seq and hash),
written in the same unit of work as the change they record."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from core.audit import GENESIS, Verification, build_record, verify_chain
from core.errors import StoreCorrupted
from core.models import AuditEvent
from core.stores.json.datadir import DataDir, data_dir
from core.stores.json.lines import iter_lines_reversed

AUDIT_FILE = "audit.log"
HEAD_FILE = "audit.head"


class JsonAuditLog:
    def __init__(self, directory: Path) -> None:
        self._dd: DataDir = data_dir(directory)
        self._path = self._dd.root / AUDIT_FILE
        self._head_path = self._dd.root / HEAD_FILE

    def append(self, event: AuditEvent, at: datetime) -> dict[str, Any]:
        with self._dd.transaction():
            seq, prev = self._last_link()
            line, digest = build_record(event, seq + 1, prev, at)
            self._dd.append_line(self._path, line)
            self._dd.write_json(self._head_path, {"seq": seq + 1, "hash": digest})
            record: dict[str, Any] = json.loads(line)
            return record

    def _last_link(self) -> tuple[int, str]:
        staged = self._dd.appended(self._path)
        stored = (text for text, complete in iter_lines_reversed(self._path) if complete)
        line = staged[-1] if staged else next((text for text in stored if text.strip()), "")
        if not line:
            return 0, GENESIS
        try:
            record = json.loads(line)
            return int(record["seq"]), str(record["hash"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise StoreCorrupted(
                f"{AUDIT_FILE}: last record is unreadable; run `gobot audit verify`"
            ) from exc

    def tail(self, limit: int) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        with self._dd.transaction():
            for line, complete in iter_lines_reversed(self._path):
                if len(records) >= limit:
                    break
                if complete and line.strip():
                    records.append(json.loads(line))
        return records[::-1]

    def verify(self) -> Verification:
        with self._dd.transaction():
            head = self._read_head()
            if not self._path.exists():
                if head is not None and head[0] != 0:
                    return Verification(False, 0, f"{AUDIT_FILE} is missing but its head is not")
                return Verification(True, 0)
            if head is None:
                return Verification(False, 0, f"{HEAD_FILE} is missing or unreadable")
            with open(self._path, "rb") as handle:
                raw_lines = handle.read().split(b"\n")
        torn = raw_lines.pop()  # empty when the file ends with a newline
        try:
            lines = [raw.decode("utf-8") for raw in raw_lines]
        except UnicodeDecodeError:
            return Verification(False, 0, "the log holds bytes that are not UTF-8 text")
        result = verify_chain(lines, *head)
        if result.ok and torn:
            warning = f"line {len(raw_lines) + 1}: torn last line (crash mid-append), ignored"
            return Verification(True, result.records, warning=warning)
        return result

    def _read_head(self) -> tuple[int, str] | None:
        try:
            head = self._dd.read_json(self._head_path)
        except StoreCorrupted:
            return None
        if not isinstance(head, dict) or not isinstance(head.get("seq"), int):
            return None
        return head["seq"], str(head.get("hash"))
