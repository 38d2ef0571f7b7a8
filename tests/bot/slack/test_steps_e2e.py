"""Workflow Builder steps: signed `function_executed` events into the real app, and the
`functions.completeSuccess` / `completeError` calls at the loopback Slack; on both stores."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.dev.fake_slack import Call
from bot.dev.slack_requests import function_executed_body
from bot.settings import Settings
from bot.slack.catalog import SUBCOMMANDS, help_text
from bot.slack.manifest import build_manifest
from bot.slack.steps import COMMANDS
from tests.bot.conftest import SlackHarness, signed_headers
from tests.conftest import FakeClock, audit_records, write_json


@pytest.fixture
def team(make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any]) -> SlackHarness:
    return make_harness(operators=["U1", "U2"], **store_settings)


def run_step(team: SlackHarness, callback_id: str, inputs: dict[str, Any], execution: str) -> Call:
    """Send the event (as Slack signs it) and wait for the step's completion call."""
    done = len(team.fake.calls_to("functions.completeSuccess")) + len(
        team.fake.calls_to("functions.completeError")
    )
    body = function_executed_body(callback_id, inputs, execution, event_id=f"Ev{execution}")
    response = team.post(body, signed_headers(body, content_type="application/json"))
    assert response.status_code == 200
    assert team.fake.wait_for(
        lambda f: (
            len(f.calls_to("functions.completeSuccess"))
            + len(f.calls_to("functions.completeError"))
            > done
        )
    )
    return [c for c in team.fake.calls if c.method.startswith("functions.complete")][-1]


def outputs(call: Call) -> dict[str, Any]:
    assert call.method == "functions.completeSuccess", call.params
    value = call.params["outputs"]
    return value if isinstance(value, dict) else dict(json.loads(value))


def test_a_workflow_starts_notes_reads_and_ends_a_session(
    team: SlackHarness, clock: FakeClock
) -> None:
    where = {"user_context": {"id": "U1", "secret": "c2VjcmV0"}, "channel_id": "C1"}
    started = run_step(
        team,
        "start_go_session",
        {
            **where,
            "notes": "deploy <!channel>",
            "planned_duration": "1h",
            "link": "https://t.example/1",
        },
        "Fx1",
    )
    assert started.params["function_execution_id"] == "Fx1"
    assert started.headers["authorization"] == "Bearer xwfp-test-not-a-real-token"
    out = outputs(started)
    session = team.services.sessions.get("C1")
    assert out["session_id"] == session.id and (out["band"], out["health"]) == ("A", "green")
    assert session.message is not None
    assert out["permalink"] == (
        f"https://fake.slack.local/archives/C1/p{session.message.ts.replace('.', '')}"
    )
    assert session.started_by == "U1" and session.link == "https://t.example/1"

    noted = outputs(run_step(team, "add_go_note", {**where, "text": "canary at 5%"}, "Fx2"))
    assert noted["session_id"] == session.id and noted["added_at_utc"].endswith("Z")
    assert team.services.sessions.get("C1").timeline[-1].text == "canary at 5%"

    team.run("/go-complete", "1")
    status = outputs(run_step(team, "get_go_status", {"channel_id": "C1"}, "Fx3"))
    assert status == {
        "active": True,
        "band": "A",
        "health": "green",
        "playbook_progress": "1/9",
        "session_id": session.id,
        "owner": "U1",
    }

    clock.advance(timedelta(minutes=65))
    ended = outputs(
        run_step(team, "end_go_session", {**where, "notes": "ok", "outcome": "rolled back"}, "Fx4")
    )
    assert ended["duration"] == "1h 05m" and ended["duration_seconds"] == 3900
    assert ended["drift"] == "no drift (band and health unchanged)"
    assert ended["outcome"] == "rolled back"
    idle = outputs(run_step(team, "get_go_status", {"channel_id": "C1"}, "Fx5"))
    assert idle["active"] is False and "owner" not in idle

    events = [r["event"] for r in audit_records(team.services)]
    assert events.count("GO_SESSION_START") == 1 and events.count("GO_SESSION_END") == 1
    assert events.count("GO_NOTE_ADDED") == 1
    start = next(r for r in audit_records(team.services) if r["event"] == "GO_SESSION_START")
    assert start["actor"] == "U1"  # the person who ran the workflow


def test_a_step_that_cannot_be_done_fails_in_words(team: SlackHarness, data_dir: Path) -> None:
    where = {"user_context": {"id": "U1", "secret": "c2VjcmV0"}, "channel_id": "C1"}
    cases = [
        ("end_go_session", where, "There is no active GO session to end."),
        ("add_go_note", {**where, "text": "x"}, "no active GO session"),
        (
            "start_go_session",
            {"user_context": {"id": "UEVE", "secret": "x"}, "channel_id": "C1"},
            "Only gobot operators may start",
        ),
        (  # a plain user ID, which a workflow's builder could set to anyone, names nobody
            "start_go_session",
            {"user_id": "U1", "channel_id": "C1"},
            "needs its Run by input",
        ),
        ("start_go_session", {**where, "planned_duration": "3 days"}, "planned duration must be"),
        ("start_go_session", {**where, "link": "javascript:alert(1)"}, "http:// or https://"),
    ]
    for n, (callback_id, inputs, expected) in enumerate(cases):
        failed = run_step(team, callback_id, inputs, f"Fe{n}")
        assert failed.method == "functions.completeError", failed.params
        assert expected in failed.params["error"], failed.params["error"]
        assert "Traceback" not in failed.params["error"] and "<" not in failed.params["error"]
    assert not team.services.sessions.get("C1").active
    write_json(data_dir / "health_status.json", {"status": "red", "reasons": ["db down"]})
    red = run_step(team, "get_go_status", {"channel_id": "C1"}, "Fr1")
    assert outputs(red)["health"] == "red"  # health as it is now


def test_inputs_of_the_wrong_type_fail_in_words_and_change_nothing(team: SlackHarness) -> None:
    runner = {"user_context": {"id": "U1", "secret": "c2VjcmV0"}}
    cases = [
        ("start_go_session", {**runner, "channel_id": ["C4", "C5"]}, "channel_id input must be"),
        ("start_go_session", {**runner, "channel_id": "../../x"}, "must be a channel"),
        ("add_go_note", {**runner, "channel_id": "C1", "text": {"a": [1, 2]}}, "text input must"),
        ("end_go_session", {**runner, "channel_id": "C1", "notes": 7}, "notes input must be"),
    ]
    for n, (callback_id, inputs, expected) in enumerate(cases):
        failed = run_step(team, callback_id, inputs, f"Ft{n}")
        assert failed.method == "functions.completeError", failed.params
        assert expected in failed.params["error"], failed.params["error"]
    assert team.services.sessions.latest().started_at_utc is None  # nothing started anywhere
    assert audit_records(team.services) == []


def test_a_step_gobot_does_not_declare_is_answered_as_failed(team: SlackHarness) -> None:
    failed = run_step(team, "reverse_a_string", {"text": "abc"}, "Fu1")
    assert failed.method == "functions.completeError"
    assert "gobot has no step 'reverse_a_string'" in failed.params["error"]


def test_an_event_delivered_twice_runs_the_step_once(team: SlackHarness) -> None:
    where = {"user_context": {"id": "U1", "secret": "c2VjcmV0"}, "channel_id": "C1"}
    run_step(team, "add_go_note", where | {"text": "x"}, "Fz0")  # fails: no session yet
    run_step(team, "start_go_session", where, "Fx9")
    body = function_executed_body("start_go_session", where, "Fx9", event_id="EvFx9")
    assert team.post(body, signed_headers(body, content_type="application/json")).status_code == 200
    assert team.runtime is not None and team.runtime.work.wait_idle("C1", 10)
    assert len(team.fake.calls_to("functions.completeSuccess")) == 1
    assert len(team.fake.calls_to("functions.completeError")) == 1
    starts = [r for r in audit_records(team.services) if r["event"] == "GO_SESSION_START"]
    assert len(starts) == 1


def test_the_manifest_declares_every_step_the_app_runs(data_dir: Path) -> None:
    manifest = build_manifest(Settings(data_dir=data_dir), "https://gobot.example.com", False)
    functions = manifest["functions"]
    assert set(functions) == {c.step.callback_id for c in COMMANDS if c.step}
    start = functions["start_go_session"]
    inputs = start["input_parameters"]
    assert inputs["user_context"] == {
        "type": "slack#/types/user_context",
        "title": "Run by",
        "description": "the person who used this workflow (the step acts for them)",
        "is_required": True,
        "name": "user_context",
    }
    assert inputs["channel_id"]["type"] == "slack#/types/channel_id"
    assert {name for name, p in inputs.items() if p["is_required"]} == {
        "user_context",
        "channel_id",
    }
    assert set(start["output_parameters"]) == {"session_id", "band", "health", "permalink"}
    assert functions["end_go_session"]["output_parameters"]["duration_seconds"]["type"] == "integer"
    settings = manifest["settings"]
    assert settings["function_runtime"] == "remote" and settings["org_deploy_enabled"] is True
    assert "function_executed" in settings["event_subscriptions"]["bot_events"]
    assert all(c.step and c.name not in SUBCOMMANDS for c in COMMANDS)  # not slash commands
    assert all(f"*{c.step.title}*" in help_text() for c in COMMANDS if c.step)  # in /go help
