"""The planned GO windows as an iCalendar feed (RFC 5545), built with `icalendar`: one event
per window, in UTC, a cancelled window marked cancelled so that calendars drop it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from icalendar import Calendar, Event

from core.models import GoWindow

PRODUCT = "-//gobot//GO windows//EN"
CALENDAR_PAST = timedelta(days=30)  # the feed also keeps this much of the past


def windows_ics(windows: Sequence[GoWindow], now: datetime, host: str = "gobot") -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "GO windows")
    for window in windows:
        event = Event()
        event.add("uid", f"{window.id}@{host}")
        event.add("dtstamp", now)
        event.add("sequence", window.revision)  # a moved or cancelled window replaces itself
        event.add("dtstart", window.starts_at_utc)
        event.add("dtend", window.ends_at_utc)
        event.add("summary", f"GO window in {window.channel}" + _state(window))
        event.add("description", _description(window))
        if window.link:
            event.add("url", window.link)
        event.add("status", "CANCELLED" if window.status == "cancelled" else "CONFIRMED")
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def _state(window: GoWindow) -> str:
    return "" if window.status == "scheduled" else f" ({window.status})"


def _description(window: GoWindow) -> str:
    lines = [f"Scheduled by {window.scheduled_by}."]
    if window.notes:
        lines.append(window.notes)
    if window.link:
        lines.append(window.link)
    return "\n".join(lines)
