"""`gobot serve` as a real process: uvicorn, FastAPI, Bolt, the core, and the fake Slack."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.fake_slack import FakeSlack
from tests.bot.conftest import BOT_TOKEN, SIGNING_SECRET, SlackHarness, block_text, signed_headers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_env(data_dir: Path, fake: FakeSlack, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "GOBOT_DATA_DIR": str(data_dir),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        **extra,
    }


@pytest.fixture
def served(
    fake_slack: FakeSlack, green: Path
) -> Iterator[tuple[httpx.Client, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        env=serve_env(green, fake_slack),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    deadline = time.monotonic() + 20
    while True:
        try:
            if client.get("/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise AssertionError(f"gobot serve did not come up:\n{process.communicate()[0]}")
        time.sleep(0.05)
    yield client, process
    client.close()
    process.terminate()
    process.wait(timeout=10)


def test_serve_end_to_end(
    served: tuple[httpx.Client, subprocess.Popen[str]], fake_slack: FakeSlack
) -> None:
    client, process = served
    harness = SlackHarness(client, fake_slack, services=None)  # type: ignore[arg-type]
    assert fake_slack.calls_to("auth.test"), "Bolt checks the token at start"
    assert "GO session started" in harness.run("/go-start", "from a real server")
    post = fake_slack.wait_for_calls("chat.postMessage")[0]
    assert "from a real server" in block_text(post.params)
    assert "GO session ended" in harness.run("/go-end", "bye")
    fake_slack.wait_for_calls("chat.update")
    body, _ = harness.command_body("/go-start")
    assert (
        client.post(
            "/slack/events", content=body, headers=signed_headers(body, secret="wrong")
        ).status_code
        == 401
    )
    process.terminate()
    output = process.communicate(timeout=10)[0]
    assert "Traceback" not in output
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output


def run_gobot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_serve_without_credentials_is_one_clear_line(fake_slack: FakeSlack, data_dir: Path) -> None:
    env = serve_env(data_dir, fake_slack)
    del env["SLACK_SIGNING_SECRET"]
    result = run_gobot("serve", env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == "gobot: SLACK_SIGNING_SECRET is required for this command"


def test_serve_with_a_rejected_token_says_so(fake_slack: FakeSlack, data_dir: Path) -> None:
    from bot.fake_slack import Failure

    fake_slack.fail("auth.test", Failure(error="invalid_auth"))
    result = run_gobot("serve", env=serve_env(data_dir, fake_slack))
    assert result.returncode == 2
    assert "Slack did not accept SLACK_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr and BOT_TOKEN not in result.stderr


def test_socket_without_app_token_is_one_clear_line(fake_slack: FakeSlack, data_dir: Path) -> None:
    result = run_gobot("socket", env=serve_env(data_dir, fake_slack))
    assert result.returncode == 2
    assert result.stderr.strip() == "gobot: SLACK_APP_TOKEN is required for this command"
