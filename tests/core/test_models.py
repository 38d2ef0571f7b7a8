"""core/models.py: the domain models' own rules: the original session shape, who owns a
session, its overrun, where its messages landed (and the older shape of that), a window's end
and overlaps, what a playbook step may be called."""

from __future__ import annotations

from datetime import timedelta
from typing import get_args

import pytest
from pydantic import ValidationError

from core.models import (
    OUTCOMES,
    ConeState,
    GoSession,
    GoWindow,
    HealthStatus,
    MessageRef,
    Outcome,
    PlaybookStep,
    Posted,
)
from tests.conftest import T0

HOUR = timedelta(hours=1)


def window(start_offset: timedelta, minutes: int = 60, window_id: str = "w1") -> GoWindow:
    return GoWindow(
        id=window_id,
        scope="workspace",
        channel="C1",
        starts_at_utc=T0 + start_offset,
        duration_seconds=minutes * 60,
        scheduled_by="U1",
    )


def test_no_session_is_the_original_all_null_shape() -> None:
    dumped = GoSession().model_dump(mode="json")
    assert list(dumped)[:7] == [
        "active",
        "started_at_utc",
        "ended_at_utc",
        "cone_band",
        "status",
        "notes",
        "snapshot",
    ]
    assert dumped["active"] is False
    assert [dumped[key] for key in list(dumped)[1:7]] == [None] * 6


def test_the_owner_is_whoever_started_it_until_it_is_handed_over() -> None:
    session = GoSession(active=True, started_by="U1")
    assert session.current_owner == "U1"
    assert session.model_copy(update={"owner": "U2"}).current_owner == "U2"
    assert GoSession().current_owner is None


@pytest.mark.parametrize(
    ("ended_after", "planned", "overrun"),
    [
        (90, 60, timedelta(minutes=30)),
        (60, 60, None),  # on time
        (30, 60, None),
        (90, None, None),  # nothing planned
        (None, 60, None),  # still running
    ],
)
def test_an_overrun_is_how_far_past_its_planned_end_it_ended(
    ended_after: int | None, planned: int | None, overrun: timedelta | None
) -> None:
    session = GoSession(
        started_at_utc=T0,
        ended_at_utc=None if ended_after is None else T0 + timedelta(minutes=ended_after),
        planned_end_utc=None if planned is None else T0 + timedelta(minutes=planned),
    )
    assert session.overrun == overrun


def test_posted_reads_the_bare_post_earlier_versions_stored() -> None:
    post = MessageRef(channel="C1", ts="1.0")
    assert Posted.model_validate({"channel": "C1", "ts": "1.0"}) == Posted(post=post)
    both = {"post": {"channel": "C1", "ts": "1.0"}, "playbook": {"channel": "C1", "ts": "2.0"}}
    assert Posted.model_validate(both) == Posted(
        post=post, playbook=MessageRef(channel="C1", ts="2.0")
    )
    assert Posted.model_validate({}) == Posted()


def test_a_window_ends_after_its_duration_and_overlaps_only_what_it_shares_time_with() -> None:
    noon = window(3 * HOUR)
    assert noon.ends_at_utc == T0 + 4 * HOUR
    touching_after = window(4 * HOUR, window_id="w2")
    touching_before = window(2 * HOUR, window_id="w3")
    inside = window(3 * HOUR + timedelta(minutes=10), minutes=5, window_id="w4")
    around = window(2 * HOUR, minutes=180, window_id="w5")
    last_minute = window(4 * HOUR - timedelta(minutes=1), window_id="w6")
    for other in (touching_after, touching_before):
        assert not noon.overlaps(other) and not other.overlaps(noon)
    for other in (inside, around, last_minute, noon):
        assert noon.overlaps(other) and other.overlaps(noon)


def test_a_window_lasts_more_than_nothing() -> None:
    with pytest.raises(ValidationError, match="duration_seconds"):
        window(HOUR, minutes=0)


@pytest.mark.parametrize("step_id", ["health", "canary-check", "step_2", "9lives"])
def test_step_ids_that_are_accepted(step_id: str) -> None:
    assert PlaybookStep(id=step_id, title="t").id == step_id


@pytest.mark.parametrize("step_id", ["", "Health", "-lead", "two words", "ü", "x" * 65])
def test_step_ids_that_are_refused(step_id: str) -> None:
    with pytest.raises(ValidationError):
        PlaybookStep(id=step_id, title="t")


def test_a_step_title_is_one_to_150_characters() -> None:
    assert PlaybookStep(id="s", title="x" * 150).title == "x" * 150
    for title in ("", "x" * 151):
        with pytest.raises(ValidationError):
            PlaybookStep(id="s", title=title)


def test_sources_may_say_more_than_gobot_reads() -> None:
    cone = ConeState.model_validate({"band": "B", "owner": "team-x", "metrics": {"p99": 1}})
    assert cone == ConeState(band="B", metrics={"p99": 1})
    health = HealthStatus.model_validate({"status": "yellow", "since": "yesterday"})
    assert health == HealthStatus(status="yellow", reasons=[])
    with pytest.raises(ValidationError):
        ConeState.model_validate({"band": "E"})


def test_the_outcomes_are_the_three_an_operator_picks_from() -> None:
    assert OUTCOMES == get_args(Outcome) == ("completed", "rolled back", "aborted")
