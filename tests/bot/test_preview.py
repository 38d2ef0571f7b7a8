from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import unquote

import pytest
from slack_sdk.models.blocks import Block

from bot.preview import BUILDER, KINDS


@pytest.mark.parametrize("kind", KINDS)
def test_preview_prints_valid_block_kit_and_a_builder_link(kind: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "preview", kind],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
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
    result = subprocess.run(
        [sys.executable, "-m", "bot", "preview", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
