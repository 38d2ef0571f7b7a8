"""core/timing.py: a signed request is remembered longer than Slack accepts its signature, so a
replay within Slack's window is never acted on twice (on both stores)."""

from __future__ import annotations

from datetime import timedelta

from core.services import Services
from core.timing import REPLAY_WINDOW
from tests.conftest import FakeClock
from tests.units import committing

SLACK_SIGNATURE_AGE = timedelta(minutes=5)  # Slack refuses older timestamps


def test_the_replay_window_outlasts_slacks_signature_window() -> None:
    assert REPLAY_WINDOW > SLACK_SIGNATURE_AGE


def test_a_request_is_remembered_for_the_replay_window(
    services: Services, clock: FakeClock
) -> None:
    first = clock.now()
    assert committing(services.uow).requests.first("sig-1", first)
    assert not committing(services.uow).requests.first("sig-1", first + SLACK_SIGNATURE_AGE)
    assert not committing(services.uow).requests.first(
        "sig-1", first + REPLAY_WINDOW - timedelta(seconds=1)
    )
    assert committing(services.uow).requests.first(
        "sig-2", first + SLACK_SIGNATURE_AGE
    )  # each key its own
    assert committing(services.uow).requests.first(
        "sig-1", first + REPLAY_WINDOW + timedelta(seconds=1)
    )
