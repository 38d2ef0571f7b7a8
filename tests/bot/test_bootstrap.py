"""bot/bootstrap.py: the composition root turns settings into services (the CLI's part), or
says in one line which setting keeps it from doing so; in process."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.bootstrap import build_runtime, build_services
from bot.settings import Settings, SettingsError
from core.models import PlaybookStep
from tests.conftest import FakeClock


def test_services_built_from_settings_act_on_the_data_dir(
    green: Path, data_dir: Path, clock: FakeClock
) -> None:
    services = build_services(Settings(data_dir=data_dir), clock)
    assert services.delivery is None  # no transport: owed messages wait in the outbox
    session = services.sessions.start("U1", "C1", "").session
    assert session.started_at_utc == clock.now()
    assert (session.cone_band, session.status) == ("A", "green")  # the data dir's sources
    again = build_services(Settings(data_dir=data_dir), clock)  # another process, same store
    assert again.sessions.get().id == session.id


def test_a_missing_data_dir_is_created(tmp_path: Path, clock: FakeClock) -> None:
    build_services(Settings(data_dir=tmp_path / "new" / "data"), clock)
    assert (tmp_path / "new" / "data").is_dir()


def test_a_data_dir_that_cannot_be_used_is_said_in_one_line(
    tmp_path: Path, clock: FakeClock
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    with pytest.raises(SettingsError) as raised:
        build_services(Settings(data_dir=blocker / "data"), clock)
    assert str(raised.value).startswith(f"GOBOT_DATA_DIR {blocker / 'data'} cannot be used: ")


def test_postgres_needs_its_url(data_dir: Path, clock: FakeClock) -> None:
    with pytest.raises(SettingsError) as raised:
        build_services(Settings(data_dir=data_dir, store="postgres"), clock)
    assert str(raised.value) == "GOBOT_DATABASE_URL is required with GOBOT_STORE=postgres"


@pytest.mark.parametrize(
    ("field", "variable"),
    [("cone_source", "GOBOT_CONE_SOURCE"), ("health_source", "GOBOT_HEALTH_SOURCE")],
)
def test_a_source_that_names_nothing_known_is_refused(
    data_dir: Path, clock: FakeClock, field: str, variable: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        build_services(Settings(data_dir=data_dir, **{field: "ftp://x"}), clock)
    assert str(raised.value) == (
        f"invalid {variable}: unknown source 'ftp://x': use file:PATH, http(s)://URL or "
        "python:mod:func"
    )


def test_a_source_setting_replaces_the_data_dirs_file(
    green: Path, data_dir: Path, tmp_path: Path, clock: FakeClock
) -> None:
    health = tmp_path / "elsewhere.json"
    health.write_text(json.dumps({"status": "yellow", "reasons": ["slow"]}), encoding="utf-8")
    services = build_services(Settings(data_dir=data_dir, health_source=f"file:{health}"), clock)
    assert services.sessions.start("U1", "C1", "").session.status == "yellow"


def test_settings_reach_the_services(green: Path, data_dir: Path, clock: FakeClock) -> None:
    steps = (PlaybookStep(id="only", title="The only step"),)
    services = build_services(
        Settings(data_dir=data_dir, session_scope="channel", window_lead="5m"), clock, steps=steps
    )
    assert [step.id for step in services.playbook.steps] == ["only"]
    assert services.sessions.start("U1", "C1", "").session.scope == "channel:C1"
    window = services.windows.schedule(
        "U1", "C2", clock.now() + timedelta(hours=1), timedelta(hours=1)
    )
    clock.advance(timedelta(minutes=54))
    assert services.windows.tick() == 0
    clock.advance(timedelta(minutes=1))  # five minutes before it
    assert services.windows.tick() == 1
    assert services.windows.find(window.id).reminded
    assert services.digest.tick() == 0  # no digest channel: no digest


@pytest.mark.parametrize(
    ("socket_mode", "settings", "missing"),
    [
        (False, {}, "SLACK_BOT_TOKEN"),
        (False, {"slack_bot_token": "xoxb-test-not-a-real-token"}, "SLACK_SIGNING_SECRET"),
        (True, {"slack_bot_token": "xoxb-test-not-a-real-token"}, "SLACK_APP_TOKEN"),
    ],
)
def test_the_slack_runtime_needs_its_tokens(
    data_dir: Path, socket_mode: bool, settings: dict[str, str], missing: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        build_runtime(Settings(data_dir=data_dir, **settings), socket_mode=socket_mode)
    assert str(raised.value) == f"{missing} is required for this command"
