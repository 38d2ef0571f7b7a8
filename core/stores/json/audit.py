"""`audit.log` (JSON lines, hash-chained) and `audit.head` (the last record's seq and hash),
written in the same unit of work as the change they record, and `audit.verified`: the last
record `verify_recent` checked (its seq, hash and where its line lies), so the next check reads
only what was appended since.

A session's records are found by binary search on the records' times (the log is appended in
time order, allowing `ORDER_SLACK` of disorder between processes) from its start, then read
up to `LATE` after its end (a message that fails for good after that is not in its report).
`lines` and `restore` copy a chain out and in, byte for byte (`gobot migrate`)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.audit import GENESIS, Verification, build_record, linked, verify_chain
from core.errors import StoreCorrupted, StoreUnavailable
from core.models import AuditEvent, GoSession
from core.stores.json.datadir import DataDir, data_dir
from core.stores.json.lines import (
    ORDER_SLACK,
    iter_lines_forward,
    iter_lines_reversed,
    seek_time,
)

AUDIT_FILE = "audit.log"
HEAD_FILE = "audit.head"
MARK_FILE = "audit.verified"
LATE = timedelta(days=7)
LAST_LINE_BLOCK = 4096  # a record fits; a longer one is read in more blocks
_AT = re.compile(rb'"at_utc":"([^"]+)"')


class JsonAuditLog:
    def __init__(self, directory: Path) -> None:
        self._dd: DataDir = data_dir(directory)
        self._path = self._dd.root / AUDIT_FILE
        self._head_path = self._dd.root / HEAD_FILE
        self._mark_path = self._dd.root / MARK_FILE

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
        line = staged[-1] if staged else self._dd.last_line(self._path)
        if line is None:
            tail = iter_lines_reversed(self._path, block=LAST_LINE_BLOCK)
            stored = (text for text, complete in tail if complete)
            line = next((text for text in stored if text.strip()), "")
        if not line:
            return 0, GENESIS
        try:
            record = json.loads(line)
            return int(record["seq"]), str(record["hash"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise StoreCorrupted(
                f"{AUDIT_FILE}: last record is unreadable; run `gobot audit verify`"
            ) from exc

    def lines(self) -> list[str]:
        with self._dd.transaction():
            return [
                line.decode("utf-8") for line in iter_lines_forward(self._path, 0) if line.strip()
            ]

    def restore(self, lines: Iterable[str]) -> int:
        added = 0
        with self._dd.transaction():
            seq, prev = self._last_link()
            for line in lines:
                record = linked(line, seq, prev)
                seq, prev = seq + 1, str(record["hash"])
                self._dd.append_line(self._path, line)
                added += 1
            self._dd.write_json(self._head_path, {"seq": seq, "hash": prev})
        return added

    def tail(self, limit: int) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        with self._dd.transaction():
            for line, complete in iter_lines_reversed(self._path):
                if len(records) >= limit:
                    break
                if complete and line.strip():
                    records.append(json.loads(line))
        return records[::-1]

    def session_records(self, session: GoSession) -> list[dict[str, Any]]:
        started, ended = session.started_at_utc, session.ended_at_utc
        needle = f'"session_id":{json.dumps(session.id)}'.encode()
        records: list[dict[str, Any]] = []
        with self._dd.transaction():
            start = 0 if started is None else seek_time(self._path, started - ORDER_SLACK, _AT)
            end = None if ended is None else seek_time(self._path, ended + LATE, _AT)
            for line in iter_lines_forward(self._path, start, end):
                if needle in line:
                    with contextlib.suppress(ValueError):
                        record = json.loads(line)
                        if record.get("session_id") == session.id:
                            records.append(record)
        return records

    def verify_recent(self) -> Verification:
        with self._dd.transaction():
            head, mark = self._read_head(), self._read_mark()
            if head is None or mark is None or not self._path.exists():
                result = self.verify()
            else:
                result = self._verify_from(mark, head)
            last = self._last_record() if result.ok and result.records else None
        if last is not None and last != mark:
            # bookkeeping, a unit of work of its own (a copy that cannot be written checks in
            # full each time)
            with contextlib.suppress(StoreUnavailable), self._dd.own_unit():
                self._dd.write_json(self._mark_path, last)
        return result

    def _verify_from(self, mark: dict[str, Any], head: tuple[int, str]) -> Verification:
        """Verify the records after the marked one, if it is still in place; else all."""
        seq, digest, start, end = mark["seq"], mark["hash"], mark["start"], mark["end"]
        with open(self._path, "rb") as handle:
            handle.seek(start)
            marked = handle.read(end - start)
            rest = handle.read()
        try:
            record = json.loads(marked)
            in_place = marked.endswith(b"\n") and (record["seq"], record["hash"]) == (seq, digest)
        except (ValueError, KeyError, TypeError):
            in_place = False
        if not in_place:
            return self.verify()
        raw_lines = rest.split(b"\n")
        torn = raw_lines.pop()
        try:
            lines = [raw.decode("utf-8") for raw in raw_lines]
        except UnicodeDecodeError:
            return self.verify()
        result = verify_chain(lines, *head, after=(seq, digest), first_line=seq + 1)
        if result.ok and torn:
            warning = f"line {seq + len(raw_lines) + 1}: torn last line (crash mid-append), ignored"
            return Verification(True, result.records, warning=warning)
        return result

    def _last_record(self) -> dict[str, Any] | None:
        """The mark of the log's last complete record: its seq, hash and where its line lies."""
        with open(self._path, "rb") as handle:
            size = handle.seek(0, 2)
            tail, start = b"", size
            while start > 0:
                start = max(0, start - 65536)
                handle.seek(start)
                tail = handle.read(size - start)
                end = tail.rfind(b"\n") + 1
                begin = tail.rfind(b"\n", 0, end - 1) + 1 if end else -1
                if end and (begin > 0 or start == 0):
                    record = json.loads(tail[begin:end])
                    return {
                        "seq": record["seq"],
                        "hash": record["hash"],
                        "start": start + begin,
                        "end": start + end,
                    }
        return None

    def _read_mark(self) -> dict[str, Any] | None:
        try:
            mark = self._dd.read_json(self._mark_path)
        except StoreCorrupted:
            return None
        keys = ("seq", "hash", "start", "end")
        if not isinstance(mark, dict) or not all(key in mark for key in keys):
            return None
        if not all(isinstance(mark[key], int) for key in ("seq", "start", "end")):
            return None
        return mark

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
