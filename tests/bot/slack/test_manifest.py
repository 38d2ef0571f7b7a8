from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

from bot.settings import Settings
from bot.slack.manifest import build_manifest
from tests.bot.conftest import SlackHarness
from tests.conftest import outside_env, run_gobot


def manifest_commands(manifest: dict[str, object]) -> list[str]:
    features = manifest["features"]
    assert isinstance(features, dict)
    return [entry["command"] for entry in features["slash_commands"]]


def test_every_manifest_command_is_handled_by_the_app_and_nothing_else(
    slack: SlackHarness, data_dir: Path
) -> None:
    manifest = build_manifest(Settings(data_dir=data_dir), "https://gobot.example.com", False)
    commands = manifest_commands(manifest)
    assert len(commands) == len(set(commands)) == 14
    for command in commands:
        response = slack.command(command, "help" if command == "/go" else "")
        assert response.status_code == 200, command
        forms = ("/go-start", "/go-schedule", "/go-freeze")
        if command in forms:  # with no text (and no session): a form
            assert slack.fake.wait_for_calls("views.open", 1 + forms.index(command))
        else:
            assert slack.reply(response)  # a listener answered
    assert slack.command("/go-bogus").status_code == 404  # what no listener handles


def test_http_manifest_points_every_url_at_slack_events(data_dir: Path) -> None:
    manifest = build_manifest(Settings(data_dir=data_dir), "https://gobot.example.com/", False)
    url = "https://gobot.example.com/slack/events"
    assert {e["url"] for e in manifest["features"]["slash_commands"]} == {url}
    settings = manifest["settings"]
    assert settings["interactivity"] == {"is_enabled": True, "request_url": url}
    assert settings["event_subscriptions"] == {
        "bot_events": [
            "app_home_opened",
            "function_executed",
            "member_joined_channel",
            "reaction_added",
        ],
        "request_url": url,
    }
    assert settings["socket_mode_enabled"] is False
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    start = next(e for e in manifest["features"]["slash_commands"] if e["command"] == "/go-start")
    assert start["usage_hint"] == "[notes] [--override reason]" and start["description"].startswith(
        "Open a GO"
    )


def test_socket_manifest_has_no_urls_and_scopes_follow_the_settings(data_dir: Path) -> None:
    plain = build_manifest(Settings(data_dir=data_dir), None, True)
    assert "url" not in json.dumps(plain["features"]) and plain["settings"]["socket_mode_enabled"]
    assert "request_url" not in json.dumps(plain["settings"])
    assert plain["oauth_config"]["scopes"]["bot"] == [
        "commands",
        "chat:write",
        "channels:history",
        "groups:history",
        "channels:read",
        "groups:read",
        "reactions:read",
    ]
    groups = build_manifest(Settings(data_dir=data_dir, operators=["SOPS"]), None, True)
    assert "usergroups:read" in groups["oauth_config"]["scopes"]["bot"]


def test_cli_json_and_yaml_agree_and_a_missing_url_is_one_line(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_gobot("manifest", *args, env=outside_env(), cwd=tmp_path)

    as_json = json.loads(run("--url", "https://h.example").stdout)
    as_yaml = yaml.safe_load(run("--url", "https://h.example", "--format", "yaml").stdout)
    assert as_json == as_yaml and manifest_commands(as_json)[0] == "/go"
    missing = run()
    assert missing.returncode == 2
    assert missing.stderr.strip() == "gobot: --url is required unless --socket is given"


SCHEMA = Path(__file__).parent / "data" / "manifest.schema.1.0.0.json"  # see data/README.md


@pytest.mark.parametrize(
    ("settings", "url", "socket"),
    [
        ({}, "https://gobot.example.com", False),
        ({}, None, True),
        ({"operators": ["SOPS"], "admins": ["UADMIN"]}, "https://gobot.example.com/x/", False),
        ({"admins": ["SADMINS"]}, None, True),
    ],
    ids=["http", "socket", "http-usergroups", "socket-usergroups"],
)
def test_every_manifest_variant_validates_against_slacks_official_schema(
    data_dir: Path, settings: dict[str, list[str]], url: str | None, socket: bool
) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = Draft7Validator(schema)
    manifest = build_manifest(Settings(data_dir=data_dir, **settings), url, socket)
    assert manifest["_metadata"]["major_version"] == 1  # the version this schema is for
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(manifest)]
    assert errors == []
    assert manifest["functions"]  # the steps are there to be validated


def test_the_official_schema_refuses_the_major_version_2_parameter_shape(data_dir: Path) -> None:
    """The vendored schema really checks steps' parameters: the `{properties, required}`
    wrapper of major version 2 is refused in a manifest that declares version 1."""
    validator = Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    manifest = build_manifest(Settings(data_dir=data_dir), None, True)
    step = manifest["functions"]["start_go_session"]
    step["input_parameters"] = {
        "properties": {name: {"type": p["type"]} for name, p in step["input_parameters"].items()},
        "required": ["channel_id"],
    }
    messages = [e.message for e in validator.iter_errors(manifest)]
    assert messages and any("is not of type 'object'" in m for m in messages)
