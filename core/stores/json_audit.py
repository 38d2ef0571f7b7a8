"""`audit.log` (JSON lines, hash-chained) and `audit.head` (the last acknowledged record)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from core.audit import GENESIS, ChainBroken, Verification, build_record, check_record
from core.errors import StoreCorrupted
from core.models import AuditEvent
from core.stores.files import (
    DescriptorCache,
    append_line,
    data_dir_lock,
    fsync_dir,
    iter_lines_reversed,
    read_json,
)

AUDIT_FILE = "audit.log"
HEAD_FILE = "audit.head"


HEAD_SIZE = 127  # one fixed-size record, rewritten in place, well inside one disk sector
_head_fds = DescriptorCache()


def _ensure_head(path: Path) -> None:
    """Create the head (at the genesis) durably, before the log's first line, or again if it
    was removed."""
    if path.exists():
        return
    _head_fds.forget(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _pwrite_all(fd, _head_record(0, GENESIS))
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)


def _write_head(path: Path, seq: int, digest: str) -> None:
    """Rewrite the head in place: no temp file, no fsync (a lost update leaves an older head)."""
    record = _head_record(seq, digest)
    _head_fds.use(path, lambda p: os.open(p, os.O_RDWR), lambda fd: _pwrite_all(fd, record))


def _pwrite_all(fd: int, data: bytes) -> None:
    if os.pwrite(fd, data, 0) != len(data):
        raise OSError(f"short write of the audit head ({len(data)} bytes expected)")


def _head_record(seq: int, digest: str) -> bytes:
    text = json.dumps({"seq": seq, "hash": digest})
    return (text.ljust(HEAD_SIZE) + "\n").encode("ascii")


class JsonAuditLog:
    """Append: the line first (fsync), then the head, rewritten in place without an fsync.
    After a crash the head may be older than the log (the log ahead of its head), never newer;
    a log that ends before its head's record has lost records. A torn last line is never one
    the head names."""

    def __init__(self, data_dir: Path) -> None:
        self._lock = data_dir_lock(data_dir)
        self._path = data_dir / AUDIT_FILE
        self._head_path = data_dir / HEAD_FILE

    def append(self, event: AuditEvent, at_utc: str) -> dict[str, Any]:
        with self._lock:
            _ensure_head(self._head_path)
            seq, prev = self._last_link()
            line, digest = build_record(event, seq + 1, prev, at_utc)
            append_line(self._path, line)
            _write_head(self._head_path, seq + 1, digest)
            record: dict[str, Any] = json.loads(line)
            return record

    def _last_link(self) -> tuple[int, str]:
        for line, complete in iter_lines_reversed(self._path):
            if complete and line.strip():
                try:
                    record = json.loads(line)
                    return int(record["seq"]), str(record["hash"])
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                    raise StoreCorrupted(
                        f"{self._path}: last record is unreadable; run `gobot audit verify`"
                    ) from exc
        return 0, GENESIS

    def tail(self, limit: int) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        with self._lock:
            for line, complete in iter_lines_reversed(self._path):
                if len(records) >= limit:
                    break
                if complete and line.strip():
                    records.append(json.loads(line))
        return records[::-1]

    def verify(self) -> Verification:
        with self._lock:
            if not self._path.exists():
                if self._head_path.exists() and (read_json(self._head_path) or {}).get("seq"):
                    return Verification(False, 0, f"{AUDIT_FILE} is missing but its head is not")
                return Verification(True, 0)
            head = self._read_head()
            if head is None:
                return Verification(False, 0, f"{HEAD_FILE} is missing or unreadable")
            return self._verify_lines(head)

    def _read_head(self) -> dict[str, Any] | None:
        try:
            head = read_json(self._head_path)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not isinstance(head, dict) or not isinstance(head.get("seq"), int):
            return None
        return head

    def _verify_lines(self, head: dict[str, Any]) -> Verification:
        prev, seq, head_hash_seen = GENESIS, 0, head["seq"] == 0
        with open(self._path, "rb") as handle:
            raw_lines = handle.read().split(b"\n")
        torn = raw_lines.pop()  # empty when the file ends with a newline
        for number, raw in enumerate(raw_lines, start=1):
            try:
                record = check_record(raw.decode("utf-8"), number, seq + 1, prev)
            except UnicodeDecodeError:
                return Verification(False, seq, f"line {number}: not UTF-8 text", number)
            except ChainBroken as broken:
                return Verification(False, seq, str(broken), broken.line_number)
            seq, prev = record["seq"], record["hash"]
            if seq == head["seq"]:
                if prev != head.get("hash"):
                    return Verification(
                        False, seq, f"line {number}: hash differs from {HEAD_FILE}", number
                    )
                head_hash_seen = True
        if not head_hash_seen:
            return Verification(
                False,
                seq,
                f"{HEAD_FILE} names record {head['seq']} but the log ends at record {seq} "
                "(records removed from the end, or the head edited)",
                len(raw_lines) + 1,
            )
        warning = None
        if torn:
            warning = f"line {len(raw_lines) + 1}: torn last line (crash mid-append), ignored"
        return Verification(True, seq, warning=warning)
