"""When something happens once a week: a weekday and a time of day in a time zone, as an
operator writes it (`mon 09:00 Europe/Berlin`), and the ISO week a moment falls in there with
when it is due that week. Read by the settings (`GOBOT_DIGEST_AT`) and the weekly digest."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_AT = re.compile(r"(?P<day>[a-z]{3})\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?:\s+(?P<zone>\S+))?")


@dataclass(frozen=True)
class WeeklyAt:
    """A weekday and a time of day in a time zone."""

    weekday: int  # 0 = Monday
    at: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str) -> WeeklyAt:
        """`mon 09:00 Europe/Berlin` (the zone defaults to UTC); ValueError says what is wrong."""
        found = _AT.fullmatch(text.strip().lower() if text else "")
        if found is None or found["day"] not in DAYS:
            raise ValueError(f"expected e.g. 'mon 09:00 Europe/Berlin', got {text!r}")
        hour, minute = int(found["hour"]), int(found["minute"])
        if hour > 23 or minute > 59:
            raise ValueError(f"no such time of day: {hour:02d}:{minute:02d}")
        name = text.split()[2] if len(text.split()) > 2 else "UTC"
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r} (e.g. Europe/Berlin, UTC)") from exc
        return cls(DAYS.index(found["day"]), time(hour, minute), zone)

    def this_week(self, now: datetime) -> tuple[str, datetime]:
        """The ISO week (`2026-W48`, in the zone) of `now`, and when its digest is due."""
        local = now.astimezone(self.zone)
        monday = local.date() - timedelta(days=local.weekday())
        due = datetime.combine(monday + timedelta(days=self.weekday), self.at, self.zone)
        year, week, _ = monday.isocalendar()
        return f"{year}-W{week:02d}", due
