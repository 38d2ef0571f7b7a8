from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from slack_sdk.models.blocks import Block

from bot.dev.preview import BUILDER, KINDS
from tests.conftest import outside_env, run_gobot


@pytest.mark.parametrize("kind", KINDS)
def test_preview_prints_valid_block_kit_and_a_builder_link(kind: str) -> None:
    result = run_gobot("preview", kind, env=outside_env())
    assert result.returncode == 0, result.stderr
    body, _, link_line = result.stdout.rpartition("\nSee it rendered: ")
    payload = json.loads(body)
    assert 0 < len(payload["blocks"]) <= 50
    for block in payload["blocks"]:
        assert Block.parse(block) is not None  # slack_sdk knows every block
    assert link_line.startswith(BUILDER)
    assert json.loads(unquote(link_line.strip().removeprefix(BUILDER))) == payload
    assert "<!channel>" not in body  # sample notes are escaped like any user text


def test_unknown_preview_is_refused() -> None:
    result = run_gobot("preview", "nope", env=outside_env())
    assert result.returncode == 2 and "Traceback" not in result.stderr
