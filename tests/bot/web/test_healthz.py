from __future__ import annotations

from pathlib import Path

from bot.dev.fake_slack import FakeSlack
from tests.bot.conftest import ServeProcess, SlackHarness


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
