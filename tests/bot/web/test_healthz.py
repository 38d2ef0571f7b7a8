from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.dev.fake_slack import FakeSlack
from tests.bot.conftest import ServeProcess, SlackHarness
from tests.faults import FULL_DISK, FaultyOs, fail_with


def test_healthz_is_200_with_store_scheduler_and_a_recent_tick(
    fake_slack: FakeSlack, green: Path
) -> None:
    with ServeProcess.start(green, fake_slack, GOBOT_TICK="200ms") as server:
        response = server.client.get("/healthz")
        body = response.json()
        assert response.status_code == 200, body
        assert body["store"] == "ok" and body["scheduler"] == "running"
        assert body["last_tick_age_seconds"] is not None and body["last_tick_age_seconds"] < 5


def test_healthz_is_503_naming_an_unreadable_store(slack: SlackHarness, data_dir: Path) -> None:
    assert slack.runtime is not None
    slack.runtime.ticker.start()
    try:
        (data_dir / "go_session.json").write_text("{not json")
        response = slack.http.get("/healthz")
        assert response.status_code == 503
        assert response.json()["problems"] == ["store unreadable: StoreCorrupted"]
    finally:
        slack.runtime.ticker.shutdown()


def test_healthz_is_503_when_the_scheduler_is_not_running(slack: SlackHarness) -> None:
    response = slack.http.get("/healthz")
    assert response.status_code == 503
    assert response.json()["problems"] == ["scheduler not running"]


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (errno.ENOSPC, "the data disk is full"),
        (errno.EIO, "the data disk reported an I/O error"),
        (errno.EROFS, "the data directory is read-only"),
    ],
)
def test_healthz_is_503_when_the_store_cannot_keep_a_change(
    slack: SlackHarness, faulty_os: Callable[[Any], None], data_dir: Path, code: int, said: str
) -> None:
    assert slack.runtime is not None
    slack.runtime.ticker.start()
    try:
        assert slack.http.get("/healthz").status_code == 200
        faulty_os(FaultyOs(1, fail_with(code), every=True, names=FULL_DISK))
        response = slack.http.get("/healthz")
        assert response.status_code == 503
        assert response.json()["problems"] == [f"store not writable: {said}"]
        assert "Not started" in slack.run("/go-start", "while full")  # as the command finds it
        faulty_os(os)  # space freed
        assert slack.http.get("/healthz").status_code == 200
        assert not any(p.name.startswith(".gobot-tmp-probe") for p in data_dir.iterdir())
    finally:
        slack.runtime.ticker.shutdown()


def test_healthz_probes_a_write_on_either_store_and_leaves_nothing(
    make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any], data_dir: Path
) -> None:
    slack = make_harness(**store_settings)
    assert slack.runtime is not None
    before = sorted(p.name for p in data_dir.iterdir())
    assert slack.runtime.services.write_problem() is None
    slack.runtime.ticker.start()
    try:
        assert slack.http.get("/healthz").json()["store"] == "ok"
    finally:
        slack.runtime.ticker.shutdown()
    assert sorted(p.name for p in data_dir.iterdir()) == before
