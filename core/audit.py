"""The audit hash chain: how a record is serialized, hashed and verified, for every store.

Each record is one compact JSON object whose last key is `hash`: the SHA-256 of the record's
exact bytes without that key (the body), and the body holds `prev`, the previous record's hash.
Hashing the raw bytes, not a re-serialization, makes any byte edit detectable. A separate head
(last seq and hash), written in the same unit of work as the record, catches a cut-off tail,
which a chain alone cannot see.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.clock import format_utc
from core.errors import StoreCorrupted
from core.models import AuditEvent

GENESIS = "0" * 64
_SUFFIX = re.compile(r',"hash":"([0-9a-f]{64})"\}$')


def build_record(event: AuditEvent, seq: int, prev: str, at: datetime) -> tuple[str, str]:
    """Return `(line, hash)` for the next record of the chain."""
    body = {
        "seq": seq,
        "at_utc": format_utc(at),
        "event": event.event,
        "actor": event.actor,
        "channel": event.channel,
        "session_id": event.session_id,
        "data": event.data,
        "prev": prev,
    }
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f'{text[:-1]},"hash":"{digest}"}}', digest


class ChainBroken(Exception):
    def __init__(self, line_number: int, problem: str) -> None:
        super().__init__(f"line {line_number}: {problem}")
        self.line_number = line_number
        self.problem = problem


def check_record(line: str, line_number: int, expected_seq: int, prev: str) -> dict[str, Any]:
    """Verify one line against the chain so far; return the record or raise ChainBroken."""
    match = _SUFFIX.search(line)
    if match is None:
        raise ChainBroken(line_number, "not a chained audit record (no trailing hash)")
    body = line[: match.start()] + "}"
    if hashlib.sha256(body.encode("utf-8")).hexdigest() != match.group(1):
        raise ChainBroken(line_number, "content does not match its hash (edited)")
    try:
        record: dict[str, Any] = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ChainBroken(line_number, f"not valid JSON: {exc.msg}") from exc
    if record.get("prev") != prev:
        raise ChainBroken(line_number, "previous-hash link broken (a record removed or moved)")
    if record.get("seq") != expected_seq:
        raise ChainBroken(line_number, f"sequence {record.get('seq')}, expected {expected_seq}")
    return record


def linked(line: str, seq: int, prev: str) -> dict[str, Any]:
    """A record copied from another chain, checked to follow record `seq` (hash `prev`);
    StoreCorrupted if it does not."""
    try:
        return check_record(line, seq + 1, seq + 1, prev)
    except ChainBroken as broken:
        raise StoreCorrupted(f"audit record {seq + 1}: {broken.problem}") from broken


@dataclass(frozen=True)
class Verification:
    ok: bool
    records: int
    problem: str | None = None
    line_number: int | None = None
    warning: str | None = None


def verify_chain(
    lines: Iterable[str],
    head_seq: int,
    head_hash: str,
    *,
    after: tuple[int, str] = (0, GENESIS),
    first_line: int = 1,
) -> Verification:
    """Check every record in order against the chain, then that the head names the last one
    (records cut off the end, or a head edited, break that). `after` is the seq and hash of
    the record the lines follow (one verified before), `first_line` the first line's number."""
    seq, prev = after
    number = first_line - 1
    for number, line in enumerate(lines, start=first_line):
        try:
            record = check_record(line, number, seq + 1, prev)
        except ChainBroken as broken:
            return Verification(False, seq, str(broken), broken.line_number)
        seq, prev = record["seq"], record["hash"]
    if (seq, prev) != (head_seq, head_hash):
        return Verification(
            False,
            seq,
            f"the head names record {head_seq} but the chain ends at record {seq} "
            "(records removed from the end, or the head edited)",
            number + 1,
        )
    return Verification(True, seq)
