"""Settings from the environment: a value that cannot work is one line naming the variable; a
setting that does nothing is a warning naming the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings, setting_warnings
from tests.conftest import outside_env, run_gobot


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No GOBOT_/SLACK_ setting of the caller's, and no `.env` in reach."""
    for name in list(os.environ):
        if name.startswith(("GOBOT_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SLACK_SIGNING_SECRET", "", "invalid SLACK_SIGNING_SECRET: is empty"),
        ("SLACK_SIGNING_SECRET", "   ", "invalid SLACK_SIGNING_SECRET: is empty"),
        ("SLACK_SIGNING_SECRET", "abc def", "invalid SLACK_SIGNING_SECRET: holds spaces"),
        ("SLACK_SIGNING_SECRET", "xoxb-1-2-3", "invalid SLACK_SIGNING_SECRET: holds a token"),
        ("SLACK_API_URL", "slack", "invalid SLACK_API_URL: 'slack' is not an http(s) URL"),
        ("SLACK_API_URL", "", "invalid SLACK_API_URL: '' is not an http(s) URL"),
        ("SLACK_API_URL", "ftp://slack.com/api/", "invalid SLACK_API_URL: 'ftp:"),
        ("GOBOT_TICK", "1ms", "invalid GOBOT_TICK: must be at least 100ms"),
    ],
)
def test_values_that_cannot_work_are_one_line_naming_the_variable(
    clean_env: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(expected), message
    assert "\n" not in message and "xoxb-1-2-3" not in message


def test_values_that_work_are_kept(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SLACK_SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5")
    clean_env.setenv("SLACK_API_URL", " http://127.0.0.1:8080/api/ ")
    clean_env.setenv("GOBOT_TICK", "100ms")
    settings = load_settings()
    assert settings.slack_api_url == "http://127.0.0.1:8080/api/"
    assert settings.tick.total_seconds() == 0.1


def test_a_misspelt_setting_is_named_with_the_nearest_known_one(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("GOBOT_REMND_AFTER", "5m")
    clean_env.setenv("GOBOT_NOTHING_LIKE_IT", "1")
    assert setting_warnings(load_settings()) == [
        "GOBOT_NOTHING_LIKE_IT is not a gobot setting and is ignored (README lists the settings)",
        "GOBOT_REMND_AFTER is not a gobot setting and is ignored; did you mean GOBOT_REMIND_AFTER?",
    ]


def test_a_database_url_without_the_postgres_store_says_which_store_is_used(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("GOBOT_DATABASE_URL", "postgresql://u@127.0.0.1:5432/gobot")
    clean_env.setenv("GOBOT_DATA_DIR", "here")
    assert setting_warnings(load_settings()) == [
        "GOBOT_DATABASE_URL is set but GOBOT_STORE is json: gobot uses the JSON store in here; "
        "set GOBOT_STORE=postgres to use the database"
    ]
    clean_env.setenv("GOBOT_STORE", "postgres")
    assert setting_warnings(load_settings()) == []


def test_the_command_line_prints_each_warning_once(tmp_path: Path) -> None:
    result = run_gobot(
        "status", env=outside_env(GOBOT_DATA_DIR=str(tmp_path), GOBOT_REMIND_EVRY="5m")
    )
    warnings = [line for line in result.stderr.splitlines() if "GOBOT_REMIND_EVRY" in line]
    assert warnings == [
        "gobot: warning: GOBOT_REMIND_EVRY is not a gobot setting and is ignored; did you mean "
        "GOBOT_REMIND_EVERY?"
    ]
