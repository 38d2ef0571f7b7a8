"""`gobot serve` as a real process: uvicorn, FastAPI, Bolt, the core, and the fake Slack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.dev.fake_slack import Failure, FakeSlack
from tests.bot.conftest import (
    BOT_TOKEN,
    SIGNING_SECRET,
    ServeProcess,
    block_text,
    serve_env,
    signed_headers,
)
from tests.conftest import run_gobot


@pytest.fixture
def served(fake_slack: FakeSlack, green: Path) -> Iterator[ServeProcess]:
    with ServeProcess.start(green, fake_slack) as server:
        yield server


def test_serve_end_to_end(served: ServeProcess, fake_slack: FakeSlack) -> None:
    client, process = served.client, served.process
    harness = served.harness(fake_slack)
    assert fake_slack.calls_to("auth.test"), "Bolt checks the token at start"
    assert "GO session started" in harness.run("/go-start", "from a real server")
    post = fake_slack.wait_for_calls("chat.postMessage")[0]
    assert "from a real server" in block_text(post.params)
    assert "GO session ended" in harness.run("/go-end", "bye")
    fake_slack.wait_for_calls("chat.update")
    body, _ = harness.command_body("/go-start", "launch")
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


def test_serve_without_credentials_is_one_clear_line(fake_slack: FakeSlack, data_dir: Path) -> None:
    env = serve_env(data_dir, fake_slack)
    del env["SLACK_SIGNING_SECRET"]
    result = run_gobot("serve", env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == "gobot: SLACK_SIGNING_SECRET is required for this command"


def test_serve_with_a_rejected_token_says_so(fake_slack: FakeSlack, data_dir: Path) -> None:
    from bot.dev.fake_slack import Failure

    fake_slack.fail("auth.test", Failure(error="invalid_auth"))
    result = run_gobot("serve", env=serve_env(data_dir, fake_slack))
    assert result.returncode == 2
    assert "Slack did not accept SLACK_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr and BOT_TOKEN not in result.stderr


def test_socket_without_app_token_is_one_clear_line(fake_slack: FakeSlack, data_dir: Path) -> None:
    result = run_gobot("socket", env=serve_env(data_dir, fake_slack))
    assert result.returncode == 2
    assert result.stderr.strip() == "gobot: SLACK_APP_TOKEN is required for this command"


def test_socket_refused_by_slack_is_one_clear_line(fake_slack: FakeSlack, data_dir: Path) -> None:
    """The loopback Slack knows no `apps.connections.open`: as Slack refusing Socket Mode."""
    result = run_gobot(
        "socket", env=serve_env(data_dir, fake_slack, SLACK_APP_TOKEN="xapp-test-not-real")
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "gobot: Slack refused Socket Mode (unknown_method): check SLACK_APP_TOKEN" in (
        result.stderr
    )


def test_every_rest_call_gets_a_log_line(
    fake_slack: FakeSlack, data_dir: Path, green: Path
) -> None:
    with ServeProcess.start(data_dir, fake_slack, GOBOT_API_KEY="test-api-key-not-real") as server:
        ok = server.client.get("/core/go/session", headers={"X-API-Key": "test-api-key-not-real"})
        refused = server.client.get("/core/go/session")
        assert (ok.status_code, refused.status_code) == (200, 401)
        out = server.output()
    assert "REST GET /core/go/session: 200 in" in out
    assert "refused GET /core/go/session: missing or wrong X-API-Key" in out
    assert "GOBOT_API_KEY is set but GOBOT_CHANNEL is not" in out
    assert "store json" in out and "REST on" in out


def test_a_slack_api_url_that_is_not_slack_is_named(fake_slack: FakeSlack, data_dir: Path) -> None:
    fake_slack.fail("auth.test", Failure(raw=b"<!DOCTYPE HTML><html>proxy</html>", times=5))
    result = run_gobot("serve", env=serve_env(data_dir, fake_slack))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "does not answer as Slack's Web API does: check SLACK_API_URL" in result.stderr
    assert "SLACK_BOT_TOKEN" not in result.stderr
