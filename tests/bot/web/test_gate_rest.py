"""`POST /core/go/gate` through the real HTTP app: the decision and its reason, one line in
Slack per request and state however often a pipeline asks, and a clear error for each mistake
(no key, a misspelt field, no such step)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.bot.conftest import SlackHarness, block_text
from tests.bot.slack.test_views import check_escaped
from tests.conftest import write_json

API_KEY = "test-api-key-not-real"
DEPLOY = {"environment": "production", "ref": "main", "requester": "ci"}


@pytest.fixture
def rest(make_harness: Callable[..., SlackHarness]) -> SlackHarness:
    return make_harness(api_key=API_KEY, api_key_name="ops-pipeline", channel="COPS")


def ask(
    rest: SlackHarness, body: object = None, key: str = API_KEY
) -> tuple[int, dict[str, object]]:
    response = rest.http.post("/core/go/gate", json=body, headers={"X-API-Key": key})
    return response.status_code, response.json()


def gate_records(data_dir: Path) -> list[dict[str, object]]:
    lines = (data_dir / "audit.log").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == "GO_GATE_DECIDED"]


def test_no_session_is_denied_and_said_once_in_the_channel(
    rest: SlackHarness, data_dir: Path
) -> None:
    for _ in range(3):
        status, decision = ask(rest, DEPLOY)
        assert status == 200
        assert (decision["allowed"], decision["state"]) == (False, "denied")
        assert decision["reason"] == "No GO session is active here: start one with /go-start."
        assert decision["session_id"] is None and decision["health"] == "green"
    rest.tick()
    [line] = rest.fake.calls_to("chat.postMessage")
    assert line.params["channel"] == "COPS"
    assert "deploy of main to production asked by ci: denied" in block_text(line.params)
    assert [r["data"]["source"] for r in gate_records(data_dir)] == ["rest"] * 3  # type: ignore[index]


def test_allowed_in_a_session_with_one_line_in_its_thread(rest: SlackHarness) -> None:
    rest.run("/go-start", "release 42", channel="COPS")
    rest.settle("COPS")
    for _ in range(2):
        status, decision = ask(rest, {**DEPLOY, "step": 1})
        assert status == 200 and decision["allowed"] is True and decision["state"] == "allowed"
        assert decision["band"] == "A" and decision["step"] == "health"
        assert decision["playbook"] == {"completed": 0, "total": 9, "next_step": "health"}
    rest.tick()
    lines = [
        c
        for c in rest.fake.calls_to("chat.postMessage")
        if "ci: deploy of main to production (step 1): allowed." in block_text(c.params)
    ]
    assert len(lines) == 1
    message = rest.services.sessions.get().message
    assert message is not None and lines[0].params["thread_ts"] == message.ts
    assert rest.services.sessions.get().timeline[-1].kind == "gate"


def test_a_later_step_waits_and_health_red_denies(rest: SlackHarness, data_dir: Path) -> None:
    rest.run("/go-start", "release 43", channel="COPS")
    status, decision = ask(rest, {**DEPLOY, "step": "rollout"})
    assert (status, decision["state"], decision["allowed"]) == (200, "pending", False)
    assert "Step 7 (Roll out everywhere) is not reached yet" in str(decision["reason"])
    write_json(data_dir / "health_status.json", {"status": "red", "reasons": ["db down"]})
    status, decision = ask(rest, DEPLOY)
    assert (decision["state"], decision["reason"]) == ("denied", "Health is red (db down).")


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"step": "nope"}, 404, "There is no step 'nope'"),
        ({"enviroment": "production"}, 422, "enviroment"),
        ({"step": ""}, 422, "step"),
        ({"ref": "x" * 201}, 422, "ref"),
        ({"channel": "U2"}, 422, "must be a Slack channel ID"),
        ({"channel": "general"}, 422, "must be a Slack channel ID"),
        ([1, 2], 422, ""),
    ],
)
def test_a_mistake_is_one_clear_error_and_decides_nothing(
    rest: SlackHarness, data_dir: Path, body: object, status: int, says: str
) -> None:
    got, answer = ask(rest, body)
    assert got == status and says in json.dumps(answer)
    assert not (data_dir / "audit.log").exists()


def test_the_gate_needs_the_api_key(rest: SlackHarness, data_dir: Path) -> None:
    assert ask(rest, DEPLOY, key="wrong")[0] == 401
    assert not (data_dir / "audit.log").exists()


def test_no_body_asks_about_the_default_channel(rest: SlackHarness) -> None:
    status, decision = ask(rest)
    assert status == 200 and decision["state"] == "denied"


def test_outside_text_reaches_slack_escaped_in_the_blocks_and_the_fallback_text(
    rest: SlackHarness,
) -> None:
    hostile = {
        "ref": "<!channel> <https://evil.example|hotfix>",
        "environment": "<@U2>",
        "requester": "<!here>",
    }
    assert ask(rest, hostile)[1]["state"] == "denied"
    rest.tick()
    [line] = rest.fake.calls_to("chat.postMessage")
    check_escaped(block_text(line.params))
    check_escaped(str(line.params["text"]))
