"""The clock port and the one place that formats and parses UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def format_utc(moment: datetime) -> str:
    """ISO 8601 UTC with a `Z` suffix and microseconds, as the original system wrote them."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: gobot only handles timezone-aware times")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 timestamp; a timestamp with no offset is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
