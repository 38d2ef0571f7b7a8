from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import format_utc, parse_utc
from core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1h30m", 5400),
        ("200ms", 0.2),
        ("1d", 86400),
        (" 2H ", 7200),
        ("1.5s", 1.5),
        ("1h 30m", 5400),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5", "abc", "5x", "m5", "1h-30m", "h", "5s!"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="90s, 15m, 2h or 1h30m"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.3, "300ms"),
        (0, "0s"),
        (45, "45s"),
        (720, "12m"),
        (725, "12m 05s"),
        (3900, "1h 05m"),
        (183600, "2d 3h"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


def test_utc_format_round_trips_with_z() -> None:
    moment = parse_utc("2026-01-01T09:33:11.559513Z")
    assert format_utc(moment) == "2026-01-01T09:33:11.559513Z"
    assert format_utc(parse_utc("2026-01-01T10:00:00+01:00")) == "2026-01-01T09:00:00.000000Z"
    with pytest.raises(ValueError, match="naive"):
        format_utc(moment.replace(tzinfo=None))
