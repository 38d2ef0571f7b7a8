"""Settings from the environment: a value that cannot work is one line naming the variable; a
setting that does nothing is a warning naming the fix."""

from __future__ import annotations

import os
from datetime import time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.settings import Settings, SettingsError, env_name, load_settings, setting_warnings
from core.digest import WeeklyAt
from tests.conftest import outside_env, run_gobot

TOKEN = "xoxb-test-not-a-real-token"
SECRET = "test-signing-secret-not-real"


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
        ("GOBOT_GITHUB_ENVIRONMENTS", "production", "invalid GOBOT_GITHUB_ENVIRONMENTS: 'pro"),
        ("GOBOT_GITHUB_ENVIRONMENTS", "prod=#ops", "invalid GOBOT_GITHUB_ENVIRONMENTS: 'prod"),
        ("GOBOT_GITHUB_ENVIRONMENTS", "=C1", "invalid GOBOT_GITHUB_ENVIRONMENTS: '=C1'"),
        ("GOBOT_GITHUB_API_URL", "github", "invalid GOBOT_GITHUB_API_URL: 'github' is not"),
        ("GOBOT_GITHUB_WEBHOOK_SECRET", " ", "invalid GOBOT_GITHUB_WEBHOOK_SECRET: is empty"),
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


def test_the_github_app_is_off_unset_on_in_full_and_named_when_set_in_part(
    clean_env: pytest.MonkeyPatch,
) -> None:
    assert load_settings().github() is False
    clean_env.setenv("GOBOT_GITHUB_ENVIRONMENTS", " production=C0PROD:rollout , staging=C0STG")
    clean_env.setenv("GOBOT_GITHUB_WEBHOOK_SECRET", "hook-secret-not-real")
    with pytest.raises(SettingsError) as raised:
        load_settings().github()
    assert str(raised.value).startswith(
        "the GitHub App is set up in part: set GOBOT_GITHUB_APP_ID, GOBOT_GITHUB_PRIVATE_KEY too"
    )
    clean_env.setenv("GOBOT_GITHUB_APP_ID", "424242")
    clean_env.setenv("GOBOT_GITHUB_PRIVATE_KEY", "/keys/app.pem")
    settings = load_settings()
    assert settings.github() is True
    production = settings.github_environments["production"]
    assert (production.channel, production.step) == ("C0PROD", "rollout")
    assert settings.github_environments["staging"].step is None
    assert {"hook-secret-not-real", "/keys/app.pem"} <= set(settings.secrets())


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


def test_the_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.store, settings.session_scope, settings.data_dir) == (
        "json",
        "workspace",
        Path("data"),
    )
    assert (settings.remind_after, settings.remind_every, settings.window_lead) == (
        timedelta(hours=1),
        timedelta(hours=1),
        timedelta(minutes=30),
    )
    assert (settings.operators, settings.admins, settings.digest_channel) == ([], [], None)
    assert settings.digest_at == WeeklyAt(0, time(9, 0), ZoneInfo("UTC"))
    assert settings.pin_emoji == "pushpin"
    assert settings.secrets() == []


def test_values_are_read_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("GOBOT_REMIND_AFTER", "1h30m")
    clean_env.setenv("GOBOT_OPERATORS", " U1, S2 ,,W3 ")
    clean_env.setenv("GOBOT_ADMINS", "U9")
    clean_env.setenv("GOBOT_DIGEST_CHANNEL", "C0DIGEST")
    clean_env.setenv("GOBOT_DIGEST_AT", "fri 17:30 Europe/Berlin")
    clean_env.setenv("GOBOT_PIN_EMOJI", " :white_check_mark: ")
    clean_env.setenv("GOBOT_SESSION_SCOPE", "channel")
    clean_env.setenv("SLACK_BOT_TOKEN", TOKEN)
    clean_env.setenv("SLACK_SIGNING_SECRET", SECRET)
    settings = load_settings()
    assert settings.remind_after == timedelta(minutes=90)
    assert (settings.operators, settings.admins) == (["U1", "S2", "W3"], ["U9"])
    assert settings.digest_channel == "C0DIGEST"
    assert settings.digest_at == WeeklyAt(4, time(17, 30), ZoneInfo("Europe/Berlin"))
    assert settings.pin_emoji == "white_check_mark"
    assert settings.session_scope == "channel"
    assert settings.secrets() == [TOKEN, SECRET]
    assert TOKEN not in repr(settings)


def test_a_dot_env_file_in_the_working_dir_is_read(clean_env: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("GOBOT_WINDOW_LEAD=2h\n", encoding="utf-8")
    assert load_settings().window_lead == timedelta(hours=2)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GOBOT_REMIND_EVERY", "0s", "invalid GOBOT_REMIND_EVERY: must be longer than 0s"),
        ("GOBOT_REMIND_AFTER", "367d", "invalid GOBOT_REMIND_AFTER: must be at most 366d"),
        (
            "GOBOT_REMIND_EVERY",
            "soon",
            "invalid GOBOT_REMIND_EVERY: invalid duration 'soon'; use e.g. 90s, 15m, 2h or 1h30m",
        ),
        (
            "GOBOT_OPERATORS",
            "U1,u2",
            "invalid GOBOT_OPERATORS: 'u2' is not a Slack user (U…/W…) or user-group (S…) ID",
        ),
        (
            "GOBOT_ADMINS",
            "C1",
            "invalid GOBOT_ADMINS: 'C1' is not a Slack user (U…/W…) or user-group (S…) ID",
        ),
        (
            "GOBOT_DIGEST_CHANNEL",
            "#ops",
            "invalid GOBOT_DIGEST_CHANNEL: '#ops' is not a Slack channel ID (C… or G…)",
        ),
        ("GOBOT_DIGEST_AT", "mon 25:00", "invalid GOBOT_DIGEST_AT: no such time of day: 25:00"),
        (
            "GOBOT_DATABASE_URL",
            "mysql://db/gobot",
            "invalid GOBOT_DATABASE_URL: must be a postgresql:// URL "
            "(e.g. postgresql://user@host:5432/gobot)",
        ),
        (
            "SLACK_BOT_TOKEN",
            "xapp-1-not-a-bot-token",
            "invalid SLACK_BOT_TOKEN: holds an xapp-… token; this one must start with xoxb-",
        ),
        (
            "SLACK_APP_TOKEN",
            "bad",
            "invalid SLACK_APP_TOKEN: must start with xapp-",
        ),
        (
            "GOBOT_PIN_EMOJI",
            "two words",
            "invalid GOBOT_PIN_EMOJI: String should match pattern '^[a-z0-9_+'-]{1,100}$'",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_its_variable(
    clean_env: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value) == message
    if name.startswith("SLACK_"):
        assert value not in str(raised.value)  # a token is never repeated back


def test_a_setting_a_process_needs_is_required_by_name(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings(slack_bot_token=TOKEN)
    settings.require("slack_bot_token")
    with pytest.raises(SettingsError) as raised:
        settings.require("slack_bot_token", "slack_signing_secret")
    assert str(raised.value) == "SLACK_SIGNING_SECRET is required for this command"


def test_env_name_is_the_variable_an_operator_sets() -> None:
    assert env_name("tick") == "GOBOT_TICK"
    assert env_name("slack_bot_token") == "SLACK_BOT_TOKEN"
    assert env_name("settings") == "settings"


def test_an_approval_step_that_is_not_a_playbook_step_stops_gobot_in_one_line(
    tmp_path: Path,
) -> None:
    env = outside_env(GOBOT_DATA_DIR=str(tmp_path), GOBOT_APPROVAL_STEPS="migrate, rolout")
    result = run_gobot("status", env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "gobot: GOBOT_APPROVAL_STEPS names 'rolout', not a playbook step; the steps are: "
        "health, freeze, backup, migrate, canary, canary-check, rollout, smoke, handover"
    ]
    assert "Traceback" not in result.stdout + result.stderr
