from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.dev.preview import BUILDER, KINDS
from tests.conftest import gobot_here, outside_env, run_gobot


@pytest.mark.parametrize("kind", KINDS)
def test_preview_prints_valid_block_kit_and_a_builder_link(kind: str) -> None:
    result = gobot_here("preview", kind, env={})
    assert result.exit_code == 0, result.output
    body, _, link_line = result.stdout.rpartition("\nSee it rendered: ")
    payload = json.loads(body)
    assert 0 < len(payload["blocks"]) <= 50
    for block in payload["blocks"]:
        assert Block.parse(block) is not None  # slack_sdk knows every block
    assert link_line.startswith(BUILDER)
    assert json.loads(unquote(link_line.strip().removeprefix(BUILDER))) == payload
    assert "<!channel>" not in body  # sample notes are escaped like any user text
    assert payload.get("type") in (None, "modal", "home")
    if payload.get("type") == "modal":
        assert View(**payload).to_dict() == payload  # slack_sdk validates the form
        forms = ("go_start_modal", "go_end_modal", "go_schedule_modal", "go_freeze_modal")
        assert payload["callback_id"] in forms


def test_previews_show_the_workspace() -> None:
    """The timeline, the report and the reminders against a planned end say what they hold."""
    said = {
        kind: gobot_here("preview", kind, env={}).stdout
        for kind in ("timeline", "report", "reminder", "overrun", "end-form")
    }
    assert "EU canary at 5% &lt;b&gt;" in said["timeline"]
    assert "handed the session to <@U0456>: off shift" in said["timeline"]
    assert "*Link* <https://tickets.example/CHG-1234|link>" in said["report"]
    assert "is due to end in *10m*" in said["reminder"]
    assert "has overrun its planned end by *25m*" in said["overrun"]
    assert "6 of 9 playbook steps are still open" in said["end-form"]


def test_unknown_preview_is_refused() -> None:
    result = run_gobot("preview", "nope", env=outside_env())
    assert result.returncode == 2 and "Traceback" not in result.stderr
