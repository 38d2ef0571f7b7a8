"""core/digest.py: when the weekly digest is due (weekday, time, zone), the past week's figures
and the coming week's windows it carries, owed once per week; on both stores, in process.

2026-01-01 (T0) is the Thursday of ISO week 2026-W01; with the default `mon 09:00 UTC` the
digest of 2026-W02 is due Monday 2026-01-05 09:00Z and covers [2025-12-29 09:00Z, then)."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import StoreUnavailable
from core.outbox import DigestPayload
from core.services import Services
from tests.conftest import T0, FakeClock, audit_records, json_only, write_json
from tests.faults import FaultyOs, fail_with

MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def digest(make_services: Callable[..., Services], green: Path) -> Services:
    return make_services(digest_channel="C9")


def at(clock: FakeClock, moment: datetime) -> None:
    clock.advance(moment - clock.now())


def digests(services: Services, clock: FakeClock) -> list[DigestPayload]:
    """The digests owed and ready to send, checked for where they go."""
    found = []
    for item in services.outbox.ready(clock.now()):
        if item.kind == "digest":
            assert isinstance(item.data, DigestPayload)
            assert (item.session_id, item.scope, item.channel) == (
                f"digest:{item.data.week}",
                "digest",
                "C9",
            )
            found.append(item.data)
    return found


def sent_records(services: Services) -> list[dict[str, Any]]:
    return [r for r in audit_records(services) if r["event"] == "GO_DIGEST_SENT"]


def test_the_weeks_figures_and_the_coming_weeks_windows(
    digest: Services, clock: FakeClock, data_dir: Path
) -> None:
    # A: planned 1h, ran 1h30m (an overrun), every step done, no drift
    a = digest.sessions.start("U1", "C1", "a", planned=HOUR).session
    for number in range(1, 10):
        digest.playbook.complete(str(number), "U1", channel="C1")
    clock.advance(timedelta(minutes=90))
    digest.sessions.end("U1", "C1", "")
    # B: 30m, two steps, health went yellow while it ran, rolled back
    at(clock, datetime(2026, 1, 2, 10, 0, tzinfo=UTC))
    digest.sessions.start("U2", "C1", "b", planned=HOUR)
    digest.playbook.complete("1", "U2", channel="C1")
    digest.playbook.complete("2", "U2", channel="C1")
    write_json(data_dir / "health_status.json", {"status": "yellow", "reasons": ["slow"]})
    clock.advance(timedelta(minutes=30))
    digest.sessions.end("U2", "C1", "", outcome="rolled back")
    # windows: one in the coming week, one just after it, one cancelled
    coming = digest.windows.schedule("U1", "C1", MONDAY + timedelta(days=1, hours=3), HOUR)
    digest.windows.schedule("U1", "C1", MONDAY + timedelta(days=7), HOUR)
    cancelled = digest.windows.schedule("U1", "C1", MONDAY + timedelta(days=2), HOUR)
    digest.windows.cancel("U1", cancelled.id)
    # C: ends exactly at the due time, so it belongs to the next week
    at(clock, MONDAY - HOUR)
    digest.sessions.start("U3", "C1", "c")
    at(clock, MONDAY)
    digest.sessions.end("U3", "C1", "", outcome="aborted")

    assert digest.digest.tick() == 1
    [payload] = digests(digest, clock)
    assert payload.model_dump() == {
        "week": "2026-W02",
        "since_utc": datetime(2025, 12, 29, 9, 0, tzinfo=UTC),
        "until_utc": MONDAY,
        "count": 2,
        "total_seconds": 7200,
        "longest_seconds": 5400,
        "longest_id": a.id,
        "outcomes": {"completed": 1, "rolled back": 1},
        "steps_done": 11,
        "steps_total": 18,
        "all_steps_done": 1,
        "drifted": 1,
        "overruns": 1,
        "windows": [coming.model_dump()],
    }
    [record] = sent_records(digest)
    assert (record["actor"], record["channel"], record["at_utc"]) == (
        "gobot",
        "C9",
        "2026-01-05T09:00:00.000000Z",
    )
    assert record["data"] == {"week": "2026-W02", "sessions": 2, "windows": 1}


def test_a_quiet_week_is_a_digest_of_zeros(digest: Services, clock: FakeClock) -> None:
    at(clock, MONDAY)
    assert digest.digest.tick() == 1
    [payload] = digests(digest, clock)
    assert payload.model_dump() == {
        "week": "2026-W02",
        "since_utc": datetime(2025, 12, 29, 9, 0, tzinfo=UTC),
        "until_utc": MONDAY,
        "count": 0,
        "total_seconds": 0,
        "longest_seconds": 0,
        "longest_id": None,
        "outcomes": {},
        "steps_done": 0,
        "steps_total": 0,
        "all_steps_done": 0,
        "drifted": 0,
        "overruns": 0,
        "windows": [],
    }


def test_owed_once_per_week_across_processes_and_not_before_it_is_due(
    digest: Services, make_services: Callable[..., Services], clock: FakeClock
) -> None:
    other = make_services(digest_channel="C9")  # a second process on the same store
    assert digest.digest.tick() == 1  # Thursday of W01: its Monday 09:00 has passed
    assert [other.digest.tick(), digest.digest.tick()] == [0, 0]
    at(clock, MONDAY - timedelta(seconds=1))
    assert [digest.digest.tick(), other.digest.tick()] == [0, 0]
    at(clock, MONDAY)
    assert [other.digest.tick(), digest.digest.tick(), other.digest.tick()] == [1, 0, 0]
    at(clock, MONDAY + timedelta(days=7) - timedelta(seconds=1))
    assert [digest.digest.tick(), other.digest.tick()] == [0, 0]
    assert [r["data"]["week"] for r in sent_records(digest)] == ["2026-W01", "2026-W02"]
    assert sorted(p.week for p in digests(digest, clock)) == ["2026-W01", "2026-W02"]


@json_only
@pytest.mark.parametrize("at_write", [1, 2])
def test_a_digest_that_cannot_be_kept_is_owed_again_whole(
    digest: Services, clock: FakeClock, faulty_os: Callable[[Any], None], at_write: int
) -> None:
    at(clock, MONDAY)
    faulty_os(FaultyOs(at_write, fail_with(errno.ENOSPC)))  # the disk is full for one write
    with pytest.raises(StoreUnavailable):
        digest.digest.tick()
    faulty_os(os)
    assert digests(digest, clock) == [] and sent_records(digest) == []  # nothing half kept
    assert digest.digest.tick() == 1
    assert [p.week for p in digests(digest, clock)] == ["2026-W02"]
    assert [r["data"]["week"] for r in sent_records(digest)] == ["2026-W02"]


def test_a_missed_digest_goes_out_at_start_in_the_same_week(
    digest: Services, clock: FakeClock
) -> None:
    at(clock, datetime(2026, 1, 13, 15, 0, tzinfo=UTC))  # down since T0; Tuesday of W03
    assert digest.digest.tick() == 1
    [payload] = digests(digest, clock)
    assert (payload.week, payload.since_utc, payload.until_utc) == (
        "2026-W03",
        MONDAY,
        MONDAY + timedelta(days=7),
    )
    at(clock, datetime(2026, 1, 18, 23, 59, tzinfo=UTC))
    assert digest.digest.tick() == 0
    assert [r["data"]["week"] for r in sent_records(digest)] == ["2026-W03"]


def test_a_digest_missed_last_week_is_not_sent_this_week(
    make_services: Callable[..., Services], green: Path, clock: FakeClock
) -> None:
    services = make_services(digest_channel="C9", digest_at="fri 09:00")
    at(clock, datetime(2026, 1, 5, 10, 0, tzinfo=UTC))  # down over W01's Friday; now W02's Monday
    assert services.digest.tick() == 0
    at(clock, datetime(2026, 1, 9, 8, 59, 59, tzinfo=UTC))
    assert services.digest.tick() == 0
    at(clock, datetime(2026, 1, 9, 9, 0, tzinfo=UTC))
    assert services.digest.tick() == 1
    assert [p.week for p in digests(services, clock)] == ["2026-W02"]
    assert [r["data"]["week"] for r in sent_records(services)] == ["2026-W02"]


def test_the_due_time_is_in_the_plans_time_zone(
    make_services: Callable[..., Services], green: Path, clock: FakeClock
) -> None:
    services = make_services(digest_channel="C9", digest_at="mon 09:00 Europe/Berlin")
    assert services.digest.tick() == 1  # W01's, missed
    at(clock, datetime(2026, 1, 5, 7, 59, 59, tzinfo=UTC))
    assert services.digest.tick() == 0
    at(clock, datetime(2026, 1, 5, 8, 0, tzinfo=UTC))  # 09:00 in Berlin
    assert services.digest.tick() == 1
    [payload] = [p for p in digests(services, clock) if p.week == "2026-W02"]
    assert (payload.since_utc, payload.until_utc) == (
        datetime(2025, 12, 29, 8, 0, tzinfo=UTC),
        datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
    )


def test_without_a_digest_channel_there_is_no_digest(services: Services, clock: FakeClock) -> None:
    for moment in (T0, MONDAY, MONDAY + timedelta(days=3)):
        at(clock, moment)
        assert services.digest.tick() == 0
    assert digests(services, clock) == []
    assert sent_records(services) == []
