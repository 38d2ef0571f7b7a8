"""Socket Mode runs the same listeners: requests arrive as Bolt's SocketModeHandler builds
them (`run_bolt_app`: unsigned, mode `socket_mode`), and answers go to the same fake Slack."""

from __future__ import annotations

from pathlib import Path

from slack_bolt.adapter.socket_mode.internals import run_bolt_app
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.bootstrap import build_runtime
from bot.dev.fake_slack import FakeSlack
from bot.settings import Settings
from tests.bot.conftest import BOT_TOKEN, block_text
from tests.conftest import FakeClock


def test_slash_command_over_socket_mode(
    fake_slack: FakeSlack, green: Path, clock: FakeClock
) -> None:
    settings = Settings(
        data_dir=green,
        slack_bot_token=BOT_TOKEN,
        slack_app_token="xapp-test",
        slack_api_url=fake_slack.api_url,
    )
    runtime = build_runtime(settings, clock=clock, socket_mode=True)
    services, app = runtime.services, runtime.app
    payload = {
        "command": "/go-start",
        "text": "over the socket",
        "user_id": "U1",
        "channel_id": "C1",
        "team_id": "T1",
        "api_app_id": "A1",
        "response_url": fake_slack.response_url("sock"),
    }
    run_bolt_app(app, SocketModeRequest(type="slash_commands", envelope_id="E1", payload=payload))
    post = fake_slack.wait_for_calls("chat.postMessage")[0]
    assert "over the socket" in block_text(post.params)
    assert fake_slack.wait_for(lambda f: any(c.method == "sock" for c in f.responses))
    assert services.sessions.get().active
