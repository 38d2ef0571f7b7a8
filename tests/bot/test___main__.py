"""bot/__main__.py: `python -m bot` is the `gobot` command (run in process here; the CLI's own
tests start it as a process where the process is what is tested)."""

from __future__ import annotations

import runpy
import sys

import pytest


def test_python_dash_m_bot_runs_the_gobot_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["gobot", "--version"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("bot", run_name="__main__")
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("gobot, version ")
