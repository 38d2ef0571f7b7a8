"""The planned GO windows and change freezes as an iCalendar feed (RFC 5545), built with
`icalendar`: one event per window or freeze, in UTC, a freeze summarized by its reason and in
the category `FREEZE`, a cancelled one marked cancelled so that calendars drop it."""

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
        event.add("summary", _summary(window) + _state(window))
        if window.kind == "freeze":
            event.add("categories", ["FREEZE"])
        event.add("description", _description(window))
        if window.link:
            event.add("url", window.link)
        event.add("status", "CANCELLED" if window.status == "cancelled" else "CONFIRMED")
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def _summary(window: GoWindow) -> str:
    if window.kind == "freeze":
        return f"Change freeze: {window.notes}"
    return f"GO window in {window.channel}"


def _state(window: GoWindow) -> str:
    return "" if window.status == "scheduled" else f" ({window.status})"


def _description(window: GoWindow) -> str:
    lines = [f"Scheduled by {window.scheduled_by}."]
    if window.notes:
        lines.append(window.notes)
    if window.link:
        lines.append(window.link)
    return "\n".join(lines)
