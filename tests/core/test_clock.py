"""core/clock.py: the system clock, and the one format of times at the edges (ISO 8601 UTC
with `Z` and microseconds), parsed back to the same aware moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from core.clock import SystemClock, UtcTime, format_utc, parse_utc, to_utc

NINE = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


class Stamped(BaseModel):
    at: UtcTime


def test_the_system_clock_is_aware_and_in_utc() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    after = datetime.now(UTC)
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (NINE, "2026-01-01T09:00:00.000000Z"),
        (NINE.replace(microsecond=559513), "2026-01-01T09:00:00.559513Z"),
        (datetime(2026, 1, 1, 11, 0, tzinfo=PLUS_TWO), "2026-01-01T09:00:00.000000Z"),
        (
            datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=-9))),
            "2026-01-01T09:30:00.000000Z",
        ),
    ],
)
def test_format_utc_writes_utc_with_z_and_microseconds(moment: datetime, text: str) -> None:
    assert format_utc(moment) == text


@given(
    st.datetimes(  # hypothesis takes naive bounds, and makes the times aware
        datetime(1970, 1, 1),  # noqa: DTZ001
        datetime(9000, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_the_same_instant_in_any_zone_and_either_order_is_written_alike(
    moment: datetime, minutes: int
) -> None:
    """Formatted text is remembered per instant: an equal instant in another zone, formatted
    first or second, gets the same UTC text, and each timespec its own."""
    elsewhere = moment.astimezone(timezone(timedelta(minutes=minutes)))
    first, second = (moment, elsewhere) if minutes % 2 else (elsewhere, moment)
    assert format_utc(first) == format_utc(second) == f"{moment:%Y-%m-%dT%H:%M:%S.%f}Z"
    assert format_utc(second, "seconds") == f"{moment:%Y-%m-%dT%H:%M:%S}Z"


def test_two_local_times_equal_but_for_fold_are_written_as_the_instants_they_are() -> None:
    """Berlin's clocks went back at 03:00 on 2024-10-27: 02:30 happened twice."""
    first = datetime(2024, 10, 27, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    second = first.replace(fold=1)
    assert format_utc(first) == "2024-10-27T00:30:00.000000Z"
    assert format_utc(second) == "2024-10-27T01:30:00.000000Z"


def test_format_utc_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError) as raised:
        format_utc(datetime(2026, 1, 1, 9, 0))  # noqa: DTZ001
    assert str(raised.value) == "naive datetime: gobot only handles timezone-aware times"


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01T09:00:00.000000Z",
        "2026-01-01T09:00:00Z",
        "2026-01-01T09:00Z",
        "2026-01-01T11:00:00+02:00",
        "2026-01-01T09:00:00",  # no offset: taken as UTC
    ],
)
def test_parse_utc_reads_every_spelling_of_the_same_moment(text: str) -> None:
    parsed = parse_utc(text)
    assert parsed == NINE
    assert parsed.tzinfo is UTC


def test_parse_utc_refuses_what_is_not_a_time() -> None:
    for text in ("", "tomorrow", "2026-13-01T09:00Z"):
        with pytest.raises(ValueError):
            parse_utc(text)


def test_to_utc_takes_a_naive_time_as_utc_and_converts_others() -> None:
    assert to_utc(datetime(2026, 1, 1, 9, 0)) == NINE  # noqa: DTZ001
    converted = to_utc(datetime(2026, 1, 1, 11, 0, tzinfo=PLUS_TWO))
    assert converted == NINE and converted.tzinfo is UTC


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2),  # noqa: DTZ001
        max_value=datetime(2999, 12, 30),  # noqa: DTZ001
        timezones=st.timezones(),
    )
)
def test_what_is_written_parses_back_to_the_same_moment(moment: datetime) -> None:
    # compared as instants: an aware time in a zone's gap or fold equals no time of another zone
    assert parse_utc(format_utc(moment)).timestamp() == moment.timestamp()


def test_a_model_field_holds_utc_and_is_written_with_z() -> None:
    stamped = Stamped(at=datetime(2026, 1, 1, 11, 0, tzinfo=PLUS_TWO))
    assert stamped.at == NINE and stamped.at.tzinfo is UTC
    assert stamped.model_dump(mode="json") == {"at": "2026-01-01T09:00:00.000000Z"}
    assert stamped.model_dump() == {"at": NINE}  # a datetime inside the code
    assert Stamped.model_validate_json('{"at": "2026-01-01T09:00:00"}').at == NINE
    assert Stamped.model_validate({"at": "2026-01-01T10:00:00+01:00"}).at == NINE
