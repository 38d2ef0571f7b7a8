"""Logs: one JSON line per command from a real `gobot serve` (its logging is what is tested),
and redaction of tokens and configured secrets."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from bot.dev.fake_slack import FakeSlack
from bot.logs import JsonFormatter, RedactSecrets
from tests.bot.conftest import BOT_TOKEN, SIGNING_SECRET, ServeProcess


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
