"""`gobot gate` as CI runs it: exit 0 allowed, 1 denied (or not allowed when --wait runs out),
2 a usage or connection error, one line each; locally on both stores, and over REST against a
running `gobot serve`, where a wait ends as soon as a session starts."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.dev.fake_slack import FakeSlack
from bot.gate_client import GateUnreachable, Waiting
from core.gate_models import GateDecision, GateRequest
from core.services import Services
from tests.bot.conftest import ServeProcess
from tests.conftest import T0, audit_records, outside_env, run_gobot, wait_until

API_KEY = "test-api-key-not-real"


def gate(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_gobot("gate", *args, env=outside_env(GOBOT_DATA_DIR=str(data_dir), **env))


def store_env(store_settings: dict[str, Any]) -> dict[str, str]:
    return {f"GOBOT_{key.upper()}": str(value) for key, value in store_settings.items()}


def test_exit_codes_on_the_local_data_dir(
    services: Services, data_dir: Path, store_settings: dict[str, Any]
) -> None:
    env = store_env(store_settings)
    denied = gate(data_dir, "--environment", "production", "--requester", "ci", **env)
    assert denied.returncode == 1
    assert denied.stdout == ("denied: No GO session is active here: start one with /go-start.\n")
    services.sessions.start("U1", "C1")
    allowed = gate(data_dir, "--step", "1", "--requester", "ci", **env)
    assert allowed.returncode == 0 and allowed.stdout.startswith("allowed: GO session ")
    pending = gate(data_dir, "--step", "rollout", **env)
    assert pending.returncode == 1 and pending.stdout.startswith("pending: Step 7 ")
    records = [r for r in audit_records(services) if r["event"] == "GO_GATE_DECIDED"]
    assert [(r["data"]["source"], r["data"]["state"]) for r in records] == [
        ("cli", "denied"),
        ("cli", "allowed"),
        ("cli", "pending"),
    ]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--step", "nope"), "gobot: There is no step 'nope'"),
        (("--wait", "soon"), "gobot: --wait: "),
        (("--ref", "x" * 201), "gobot: --ref: String should have at most 200 characters"),
        (("--url", "localhost:3000"), "gobot: --url must be gobot's base URL"),
        (("--channel", "general"), "gobot: --channel: must be a Slack channel ID (C… or G…)"),
        (("--url", "http://127.0.0.1:9"), "gobot: set GOBOT_API_KEY"),
    ],
)
def test_a_usage_mistake_is_exit_2_and_one_line(
    green: Path, data_dir: Path, args: tuple[str, ...], says: str
) -> None:
    result = gate(data_dir, *args)
    assert result.returncode == 2
    assert result.stderr.startswith(says) and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_nothing_listening_is_a_connection_error(green: Path, data_dir: Path) -> None:
    result = gate(data_dir, "--url", "http://127.0.0.1:9", GOBOT_API_KEY=API_KEY)
    assert result.returncode == 2
    assert result.stderr == "gobot: cannot reach gobot at http://127.0.0.1:9 (ConnectError)\n"


def test_over_rest_a_wait_ends_when_a_session_starts(
    green: Path, data_dir: Path, fake_slack: FakeSlack
) -> None:
    with ServeProcess.start(data_dir, fake_slack, GOBOT_API_KEY=API_KEY) as server:
        url = str(server.client.base_url)
        wrong = gate(data_dir, "--url", url, GOBOT_API_KEY="wrong")
        assert (wrong.returncode, wrong.stderr) == (
            2,
            f"gobot: gobot at {url} refused GOBOT_API_KEY: check the key\n",
        )
        waiting = subprocess.Popen(
            [sys.executable, "-m", "bot", "gate", "--url", url, "--wait", "2m"],
            env=outside_env(GOBOT_DATA_DIR=str(data_dir), GOBOT_API_KEY=API_KEY),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        headers = {"X-API-Key": API_KEY}
        wait_until(
            lambda: (
                "GO_GATE_DECIDED" in (data_dir / "audit.log").read_text()
                if (data_dir / "audit.log").exists()
                else False
            )
        )
        assert server.client.post("/core/go/start_session", headers=headers).status_code == 200
        out, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, err
        first, second = out.splitlines()
        assert first.startswith("denied: No GO session is active here")
        assert second.startswith("allowed: GO session ")


class Script:
    """A gate that answers as scripted, and a clock that only moves when slept."""

    def __init__(self, *answers: GateDecision | Exception) -> None:
        self.answers = list(answers)
        self.now = 0.0
        self.slept: list[float] = []
        self.said: list[str] = []

    def ask(self, _request: GateRequest) -> GateDecision:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def run(self, wait: timedelta) -> int:
        return Waiting(
            self.ask, self.said.append, self.said.append, wait, lambda: self.now, self.sleep
        ).run(GateRequest())


def decision(state: str, reason: str = "why") -> GateDecision:
    return GateDecision.model_validate(
        {
            "allowed": state == "allowed",
            "state": state,
            "reason": reason,
            "health": "green",
            "decided_at_utc": T0,
        }
    )


def test_a_wait_backs_off_says_each_new_state_once_and_gives_up_at_its_end() -> None:
    script = Script(decision("denied"), decision("denied"), decision("pending", "step 3"))
    assert script.run(timedelta(minutes=1)) == 1
    assert script.said == ["denied: why", "pending: step 3"]
    assert script.slept[:5] == [2.0, 4.0, 8.0, 16.0, 30.0]
    assert sum(script.slept) == 60.0


def test_a_failure_to_reach_gobot_while_waiting_is_said_once_and_retried() -> None:
    down = GateUnreachable("cannot reach gobot at http://x (ConnectError)")
    script = Script(down, down, decision("allowed", "go"))
    assert script.run(timedelta(minutes=1)) == 0
    assert script.said == ["gobot: cannot reach gobot at http://x (ConnectError)", "allowed: go"]
    still_down = Script(down)
    assert still_down.run(timedelta(seconds=5)) == 2
