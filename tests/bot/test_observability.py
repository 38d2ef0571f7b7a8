from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bot.dev.fake_slack import FakeSlack
from bot.logs import JsonFormatter, RedactSecrets
from tests.bot.conftest import BOT_TOKEN, SIGNING_SECRET, ServeProcess, SlackHarness
from tests.conftest import FakeClock


def samples(slack: SlackHarness) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = slack.http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_move_with_real_requests(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    slack = make_harness(operators=["U1"], remind_after="1m", remind_every="1m")
    slack.run("/go-start", "metrics", user="U1")
    slack.run("/go-session", user="U2")
    slack.run("/go-end", "done", user="U2")  # denied
    slack.run("/go", "bogus", user="U1")
    got = samples(slack)
    assert got[("gobot_commands_total", (("command", "start"), ("outcome", "ok")))] == 1
    assert got[("gobot_commands_total", (("command", "session"), ("outcome", "ok")))] == 1
    assert (
        got[("gobot_commands_total", (("command", "end"), ("outcome", "permission_denied")))] == 1
    )
    assert (
        got[("gobot_commands_total", (("command", "unknown"), ("outcome", "unknown_subcommand")))]
        == 1
    )
    assert got[("gobot_slack_ack_seconds_count", ())] == 4
    assert (
        got[("gobot_slack_api_calls_total", (("method", "chat.postMessage"), ("result", "ok")))]
        == 2  # the post and its playbook message
    )
    assert got[("gobot_active_sessions", ())] == 1 and got[("gobot_outbox_depth", ())] == 0
    clock.advance(timedelta(minutes=1))
    slack.tick()
    assert samples(slack)[("gobot_reminders_sent_total", ())] == 1


def test_one_json_log_line_per_command_without_secrets(fake_slack: FakeSlack, green: Path) -> None:
    with ServeProcess.start(green, fake_slack, GOBOT_LOG_FORMAT="json") as server:
        server.harness(fake_slack).run("/go-start", "logged", user="U1")
        output = server.output()
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    [command] = [line for line in lines if line.get("command") == "start"]
    assert command["user"] == "U1" and command["outcome"] == "ok"
    assert command["latency_ms"] > 0 and command["time"].endswith("Z")
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output


def test_redaction_masks_tokens_and_configured_secrets() -> None:
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "token xoxb-123-abc and key %s", ("s3cret-key",), None
    )
    RedactSecrets(["s3cret-key"]).filter(record)
    text = JsonFormatter().format(record)
    assert "xoxb-123" not in text and "s3cret-key" not in text
    assert re.search(r"xoxb-\[redacted\].*\[redacted\]", text)
