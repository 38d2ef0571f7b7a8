"""`gobot local`: the whole bot in a terminal, through the real pipeline, with no Slack."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import outside_env, run_gobot

FAST = {"GOBOT_REMIND_AFTER": "1s", "GOBOT_REMIND_EVERY": "1s", "GOBOT_TICK": "200ms"}


def local(
    workdir: Path, script: str | None = None, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    args = ["local"]
    if script is not None:
        (workdir / "demo.txt").write_text(script)
        args += ["--script", "demo.txt"]
    return run_gobot(*args, env=outside_env(**env), cwd=workdir, stdin=stdin)


def test_script_start_reminder_checklist_end(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "health_status.json").write_text('{"status": "green", "reasons": []}')
    result = local(
        tmp_path,
        "/go-start demo <!channel>\nwait 2500ms\n/go-checklist\n"
        "/go-complete 1 checked\n/go-end all good\nexit\n",
        **FAST,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "> /go-start demo <!channel>" in out
    assert "[#local]\n  GO session started" in out
    assert "demo <!channel>" in out  # the text as typed, shown (escaped in Slack)
    assert "(1) End session" in out and "(2) Snooze 30m" in out
    assert "[#local, in thread]\n  :alarm_clock: @ULOCAL, this GO session has been open" in out
    assert "Launch playbook* — 0/9 done" in out
    assert "Step *1. Confirm cone band and health* done" in out
    assert "[#local, message updated]\n  GO session ended" in out
    assert "*Session ended* by @ULOCAL" in out and "all good" in out
    assert "Traceback" not in out + result.stderr

    stored = json.loads((tmp_path / "data" / "go_session.json").read_text())["session"]
    assert stored["active"] is False and stored["notes"] == "demo <!channel>"
    assert stored["end_notes"] == "all good" and stored["reminder"]["sent"] >= 1
    history = (tmp_path / "data" / "go_history.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in history] == [stored["id"]]
    events = [
        json.loads(line)["event"]
        for line in (tmp_path / "data" / "audit.log").read_text().splitlines()
    ]
    assert events[0] == "GO_SESSION_START" and "GO_REMINDER_SENT" in events
    assert "GO_STEP_COMPLETE" in events and events[-1] == "GO_SESSION_END"
    verify = run_gobot("audit", "verify", env=outside_env(), cwd=tmp_path)
    assert verify.returncode == 0, verify.stderr


def test_buttons_are_numbered_actions_and_stdin_works_until_eof(tmp_path: Path) -> None:
    result = local(tmp_path, stdin="/go-start\n3\n1\n/go-session\n")  # Snooze 1h, then End
    assert result.returncode == 0, result.stderr
    assert "Reminders snoozed for 1h" in result.stdout
    assert "[#local, message updated]\n  GO session ended" in result.stdout
    assert "No active GO session" in result.stdout


def test_bad_input_is_explained_and_changes_nothing(tmp_path: Path) -> None:
    result = local(tmp_path, stdin="hello\n42\nwait soon\n/go-end\nexit\n")
    assert result.returncode == 0
    out = result.stdout
    assert "! Not a command." in out and "! No such button." in out
    assert "invalid duration 'soon'" in out and "no active GO session" in out
    assert not (tmp_path / "data" / "go_session.json").exists()
