"""Session ids: UUIDv7 in hex (32 characters, as uuid4 hex ids were), whose first 48 bits are
the session's start in Unix milliseconds, so a store finds an ended session from its id's time
instead of searching all of history. Ids made before (uuid4) carry no time: stores search them
the slow way."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

_MS_BITS = 48
_VERSION = 7


def time_ordered_id(now: datetime) -> str:
    """A new id for something that starts at `now` (the injected clock's time)."""
    ms = max(0, int(now.timestamp() * 1000)) & ((1 << _MS_BITS) - 1)
    rand_a = secrets.randbits(12)
    rand_b = secrets.randbits(62)
    value = (ms << 80) | (_VERSION << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return f"{value:032x}"


def id_time(value: str) -> datetime | None:
    """The start time a time-ordered id carries; None for any other id."""
    if len(value) != 32 or value[12] != str(_VERSION):
        return None
    try:
        ms = int(value[:12], 16)
        int(value, 16)
    except ValueError:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC)
