"""core/weekly.py: a weekly time as an operator writes it, what is wrong with one that is
not, and the ISO week and due time of a moment in the time's zone."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from core.weekly import WeeklyAt


def test_weekly_at_parses_day_time_and_zone() -> None:
    assert WeeklyAt.parse("mon 09:00 Europe/Berlin") == WeeklyAt(
        0, time(9, 0), ZoneInfo("Europe/Berlin")
    )
    assert WeeklyAt.parse("  FRI 9:05 ") == WeeklyAt(4, time(9, 5), ZoneInfo("UTC"))
    assert WeeklyAt.parse("sun 23:59 UTC") == WeeklyAt(6, time(23, 59), ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected e.g. 'mon 09:00 Europe/Berlin', got ''"),
        ("xyz 09:00", "expected e.g. 'mon 09:00 Europe/Berlin', got 'xyz 09:00'"),
        ("monday 09:00", "expected e.g. 'mon 09:00 Europe/Berlin', got 'monday 09:00'"),
        ("mon 0900", "expected e.g. 'mon 09:00 Europe/Berlin', got 'mon 0900'"),
        (
            "mon 09:00 UTC extra",
            "expected e.g. 'mon 09:00 Europe/Berlin', got 'mon 09:00 UTC extra'",
        ),
        ("mon 24:00", "no such time of day: 24:00"),
        ("mon 09:60", "no such time of day: 09:60"),
        ("mon 09:00 Mars/Base", "unknown time zone 'Mars/Base' (e.g. Europe/Berlin, UTC)"),
    ],
)
def test_weekly_at_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        WeeklyAt.parse(text)
    assert str(raised.value) == message


def test_the_week_and_its_due_time_are_the_zones() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    plan = WeeklyAt.parse("mon 09:00 Europe/Berlin")
    sunday_late = datetime(2026, 1, 4, 23, 30, tzinfo=UTC)  # Monday 00:30 in Berlin
    assert plan.this_week(sunday_late) == ("2026-W02", datetime(2026, 1, 5, 9, 0, tzinfo=berlin))
    sunday = datetime(2026, 1, 4, 22, 59, tzinfo=UTC)
    assert plan.this_week(sunday) == ("2026-W01", datetime(2025, 12, 29, 9, 0, tzinfo=berlin))


def test_the_week_across_a_year_end_is_the_iso_week() -> None:
    plan = WeeklyAt.parse("sun 18:00")
    assert plan.this_week(datetime(2027, 1, 1, 12, 0, tzinfo=UTC)) == (
        "2026-W53",
        datetime(2027, 1, 3, 18, 0, tzinfo=ZoneInfo("UTC")),
    )
