"""The clock port, and the one place that formats and parses UTC timestamps: aware datetimes
inside the code, ISO 8601 UTC with `Z` at the edges (files, REST, audit records)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Annotated, Protocol

from pydantic import AfterValidator, PlainSerializer


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def format_utc(moment: datetime, timespec: str = "microseconds") -> str:
    """ISO 8601 UTC with a `Z` suffix and microseconds, as the original system wrote them
    (`timespec="seconds"`: to the second, as the CLI shows times)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: gobot only handles timezone-aware times")
    return _formatted(moment.astimezone(UTC), timespec)


@functools.lru_cache(maxsize=4096)
def _formatted(moment: datetime, timespec: str) -> str:
    """One UTC instant formatted once: a change writes its session's few times a dozen times
    over (its file, its history line, its audit record, each message it owes). Keyed in UTC: two
    local times equal but for `fold` (a clock set back) are different instants."""
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 timestamp; a timestamp with no offset is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_utc(moment: datetime) -> datetime:
    """An aware datetime in UTC; one with no offset is taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


UtcTime = Annotated[
    datetime,
    AfterValidator(to_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]
"""A model field holding an aware UTC datetime, written as `2026-01-01T09:00:00.000000Z`."""
