"""The one place that parses and formats durations such as `90s`, `15m`, `2h`, `1h30m`, `200ms`."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s|d)")
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> timedelta:
    """Parse `1h30m`-style durations; raise ValueError with a readable message otherwise."""
    compact = text.strip().lower().replace(" ", "")
    if not compact:
        raise ValueError("empty duration; use e.g. 90s, 15m, 2h or 1h30m")
    position = 0
    seconds = 0.0
    for match in _PART.finditer(compact):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(compact):
        raise ValueError(f"invalid duration {text!r}; use e.g. 90s, 15m, 2h or 1h30m")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration {text!r} is too long") from None


def format_duration(delta: timedelta) -> str:
    """Human form for messages: `45s`, `12m`, `1h 05m`, `2d 3h`."""
    if timedelta(0) < delta < timedelta(seconds=1):
        return f"{round(delta.total_seconds() * 1000)}ms"
    total = max(0, int(delta.total_seconds()))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m" if not seconds else f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"
