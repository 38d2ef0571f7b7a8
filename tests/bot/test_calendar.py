"""bot/calendar.py: the planned windows as an iCalendar feed, read back with `icalendar`: one
event per window in UTC, its revision as SEQUENCE, a cancelled window marked cancelled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from icalendar import Calendar

from bot.calendar import PRODUCT, windows_ics
from core.models import GoWindow
from tests.conftest import T0

START = T0 + timedelta(hours=3)


def window(**update: Any) -> GoWindow:
    base = GoWindow(
        id="w1",
        scope="workspace",
        channel="C1",
        starts_at_utc=START,
        duration_seconds=5400,
        scheduled_by="U1",
    )
    return base.model_copy(update=update)


def events(feed: bytes) -> dict[str, Any]:
    calendar = Calendar.from_ical(feed)
    assert (str(calendar["prodid"]), str(calendar["version"])) == (PRODUCT, "2.0")
    assert str(calendar["x-wr-calname"]) == "GO windows"
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


def test_a_window_is_one_event_in_utc() -> None:
    found = events(windows_ics([window(notes="db upgrade, step 2\nthen smoke")], T0, "bot.example"))
    event = found["w1@bot.example"]
    assert event.decoded("dtstart") == START
    assert event.decoded("dtend") == START + timedelta(minutes=90)
    assert event.decoded("dtstamp") == T0
    assert event.decoded("dtstart").utcoffset() == timedelta(0)
    assert int(event["sequence"]) == 0
    assert str(event["summary"]) == "GO window in C1"
    assert str(event["description"]) == "Scheduled by U1.\ndb upgrade, step 2\nthen smoke"
    assert str(event["status"]) == "CONFIRMED"
    assert "url" not in event
    assert list(found) == ["w1@bot.example"]


def test_a_link_is_the_events_url_and_in_its_description() -> None:
    [event] = events(windows_ics([window(link="https://t.example/CHG-3")], T0)).values()
    assert str(event["uid"]) == "w1@gobot"
    assert str(event["url"]) == "https://t.example/CHG-3"
    assert str(event["description"]) == "Scheduled by U1.\nhttps://t.example/CHG-3"


def test_a_moved_or_cancelled_window_replaces_its_event() -> None:
    moved = window(revision=1, starts_at_utc=START + timedelta(days=1))
    cancelled = window(id="w2", revision=2, status="cancelled")
    started = window(id="w3", status="started", session_id="s1")
    found = events(windows_ics([moved, cancelled, started], T0))
    assert int(found["w1@gobot"]["sequence"]) == 1
    assert found["w1@gobot"].decoded("dtstart") == START + timedelta(days=1)
    assert (int(found["w2@gobot"]["sequence"]), str(found["w2@gobot"]["status"])) == (
        2,
        "CANCELLED",
    )
    assert str(found["w2@gobot"]["summary"]) == "GO window in C1 (cancelled)"
    assert str(found["w3@gobot"]["summary"]) == "GO window in C1 (started)"
    assert str(found["w3@gobot"]["status"]) == "CONFIRMED"


def test_no_windows_is_an_empty_calendar() -> None:
    assert events(windows_ics([], T0)) == {}
