"""The JSON store's write-ahead journal, `go_journal.wal`, as bytes: its 128-byte header (how
far it was applied, how many changes were ever committed, the boot of the machine that wrote
it) and its records, each `llllllll cccccccc payload` (length and CRC-32 in hex, then the change
as compact JSON) on a line of its own, then zero bytes kept for the next records (or the file's
end); read back only whole and verified (`record_at`, `scan`), with a crash's torn last append
told apart from damage in the middle (`torn_tail`). Records of a journal written before they
carried their length, or before it kept zeros ahead, are still read."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_core import from_json, to_json

from core.errors import StoreCorrupted

JOURNAL_FILE = "go_journal.wal"
RECOVER_HINT = "run `gobot recover` to set it aside (a copy is kept) and go on from the data files"

MAGIC = b"GOBOTWAL1 "


HEADER_SIZE = 128


FRAME_PREFIX = 18  # "llllllll cccccccc ": the record's length and checksum, in hex

CHECKPOINT_BYTES = 1 << 20  # past this, the journal's files are made durable and it is emptied
ZEROS_AHEAD = CHECKPOINT_BYTES + (1 << 16)  # zeros an empty journal keeps for its records


def dumps_compact(payload: Any) -> str:
    """Compact JSON, as `json.dumps(..., ensure_ascii=False, separators=(",", ":"))` writes
    it, by pydantic-core's encoder: four times as fast, on the path of every change."""
    return to_json(payload).decode("utf-8")


def boot_id() -> bytes:
    """This boot of the machine: files written since it may be lost only if it ends."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_bytes().strip()[:36]
    except OSError:
        return b"unknown"


BOOT = boot_id()


@dataclass(frozen=True)
class Header:
    """The journal's first line: how far it has been applied, how many changes were ever
    committed (a reader's cache is stale once that moves), and the boot that wrote it."""

    applied: int
    commits: int
    boot: bytes = b""

    def encode(self) -> bytes:
        """The header as this process writes it: with the boot it runs in."""
        text = MAGIC + f"{self.applied:016x} {self.commits:016x} ".encode() + BOOT
        return text.ljust(HEADER_SIZE - 1) + b"\n"

    @classmethod
    def decode(cls, raw: bytes) -> Header:
        try:
            applied, commits, boot = raw[len(MAGIC) :].split(maxsplit=2)
            if not raw.startswith(MAGIC):
                raise ValueError(raw[: len(MAGIC)])
            return cls(int(applied, 16), int(commits, 16), boot.rstrip())
        except ValueError as exc:
            raise StoreCorrupted(
                f"{JOURNAL_FILE} is damaged (its header is unreadable): {RECOVER_HINT}"
            ) from exc


def frame(record: dict[str, Any]) -> bytes:
    """One journal record: its length and checksum, then the change, on a line of its own."""
    payload = to_json(record)
    return f"{len(payload):08x} {zlib.crc32(payload):08x} ".encode() + payload + b"\n"


def record_at(data: bytes, at: int) -> tuple[dict[str, Any], int] | None:
    """The whole, verified record that starts at `at` and the offset after it, or None. Also
    reads the records of a journal written before they carried their length."""
    head = data[at : at + FRAME_PREFIX]
    try:
        if len(head) == FRAME_PREFIX and head[8:9] == b" " and head[17:18] == b" ":
            length, crc = int(head[:8], 16), int(head[9:17], 16)
            start = at + FRAME_PREFIX
            end = start + length + 1
            payload = data[start : start + length]
            if end > len(data) or data[end - 1 : end] != b"\n":
                return None
        else:
            end = data.find(b"\n", at) + 1
            if end == 0 or data[at + 8 : at + 9] != b" ":
                return None
            crc, payload = int(data[at : at + 8], 16), data[at + 9 : end - 1]
        if zlib.crc32(payload) != crc:
            return None
        record = from_json(payload)
    except ValueError:
        return None
    return (record, end) if isinstance(record, dict) else None


def scan(data: bytes) -> tuple[list[tuple[int, dict[str, Any]]], int | None]:
    """The whole, verified records from the start of `data`, each with its offset, and the
    offset of the first one that is not (None: all of `data` was read)."""
    records: list[tuple[int, dict[str, Any]]] = []
    at = 0
    while at < len(data):
        found = record_at(data, at)
        if found is None:
            return records, at
        records.append((at, found[0]))
        at = found[1]
    return records, None


def torn_tail(data: bytes, at: int) -> bool:
    """Whether the bytes from `at` on are an append cut short by a crash (no whole record
    follows them), rather than damage in the middle of the journal."""
    line = data.find(b"\n", at)
    while line >= 0:
        if record_at(data, line + 1) is not None:
            return False
        line = data.find(b"\n", line + 1)
    return True
