"""`gobot local`: the whole bot in a terminal, through the real pipeline, with no Slack."""

from __future__ import annotations

import json
import subprocess
import tempfile
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
    result = local(
        tmp_path,
        "/go-start demo <!channel>\nwait 2500ms\n/go-checklist\n"
        "/go-complete 1 checked\n/go-end all good\nexit\n",
        **FAST,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "> /go-start demo <!channel>" in out
    assert "[#local] [message 1]\n  GO session started" in out
    assert "demo <!channel>" in out  # the text as typed, shown (escaped in Slack)
    assert "(1) End session" in out and "(2) Snooze 30m" in out
    assert "]\n  :alarm_clock: @ULOCAL, this GO session has been open" in out
    assert "[#local, in thread] [message 3]\n  :alarm_clock:" in out
    assert "Launch playbook* — 0/9 done" in out
    assert "Step *1. Confirm cone band and health* done" in out
    assert "[#local, message updated]\n  GO session ended" in out
    assert "*Session ended* by @ULOCAL" in out and "all good" in out
    assert "Traceback" not in out + result.stderr

    state = tmp_path / "data" / "local"  # the demo's own, apart from what serve uses
    assert f"State: {Path('data') / 'local'}" in out
    stored = json.loads((state / "go_session.json").read_text())["session"]
    assert stored["active"] is False and stored["notes"] == "demo <!channel>"
    assert stored["end_notes"] == "all good" and stored["reminder"]["sent"] >= 1
    history = (state / "go_history.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in history] == [stored["id"]]
    events = [json.loads(line)["event"] for line in (state / "audit.log").read_text().splitlines()]
    assert events[0] == "GO_SESSION_START" and "GO_REMINDER_SENT" in events
    assert "GO_STEP_COMPLETE" in events and events[-1] == "GO_SESSION_END"
    verify = run_gobot("audit", "verify", env=outside_env(GOBOT_DATA_DIR=str(state)))
    assert verify.returncode == 0, verify.stderr


def test_buttons_are_numbered_actions_and_stdin_works_until_eof(tmp_path: Path) -> None:
    result = local(tmp_path, stdin="/go-start now\n3\n1\n\n\n/go-session\n")  # Snooze 1h, End
    assert result.returncode == 0, result.stderr
    assert "Reminders snoozed for 1h" in result.stdout
    assert "[form: End the GO session] 9 of 9 playbook steps are still open." in result.stdout
    assert "[#local, message updated]\n  GO session ended" in result.stdout
    assert "No active GO session" in result.stdout


def test_bad_input_is_explained_changes_nothing_and_fails_the_script(tmp_path: Path) -> None:
    result = local(tmp_path, stdin="hello\n42\nwait soon\n/go-end\n# fine\nexit\n")
    assert result.returncode == 1 and "gobot: 4 command(s) failed" in result.stderr
    out = result.stdout
    assert "! Not a command." in out and "! No such button." in out
    assert "invalid duration 'soon'" in out and "no active GO session" in out
    assert "# fine" in out and "Not a command. Type" in out
    assert not (tmp_path / "data" / "local" / "go_session.json").exists()


def test_an_unknown_command_is_answered_at_once_with_the_list(tmp_path: Path) -> None:
    result = local(tmp_path, stdin="/go-sesion\n")
    assert "no answer yet" not in result.stdout + result.stderr  # no wait for a reply
    assert "! Unknown command /go-sesion. The commands: /go, /go-start" in result.stdout
    assert "HTTP 404" not in result.stdout


def test_the_demo_starts_healthy_and_health_can_be_set(tmp_path: Path) -> None:
    result = local(
        tmp_path, stdin='/go-start go\n/go-complete 1\nhealth red "db lag"\n/go-complete 2\n'
    )
    out = result.stdout
    assert "Step *1. Confirm cone band and health* done" in out
    assert "(health is now red: db lag)" in out
    assert "was not completed: health is red (db lag)" in out
    assert not (tmp_path / "data" / "go_session.json").exists()  # serve's state untouched


def test_the_shipped_example_script_runs_clean() -> None:
    root = Path(__file__).resolve().parents[3]
    with tempfile.TemporaryDirectory() as tmp:
        result = run_gobot(
            "local",
            "--script",
            str(root / "data" / "demo.txt"),
            env=outside_env(GOBOT_DATA_DIR=tmp),
        )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "GO session ended; summary posted" in result.stdout


def test_a_session_left_open_is_said_and_a_later_run_says_the_old_post_is_gone(
    tmp_path: Path,
) -> None:
    first = local(tmp_path, stdin='/go-start a\nhealth red "lag"\n')
    assert "(a GO session is still open: it will be there next time" in first.stdout
    second = local(tmp_path, stdin="/go-session\n/go-end b\n")
    assert ":large_green_circle: green" in second.stdout  # every run starts healthy
    assert "made in an earlier run: not updated" in second.stdout
    assert "GO session ended; summary posted" in second.stdout


def test_forms_are_asked_field_by_field_and_messages_can_be_pinned(tmp_path: Path) -> None:
    """The start form's bad link is said beside its field and asked again (nothing started
    meanwhile); `say` posts a message, `pin N` adds it to the timeline through the real
    reaction event; the End session button's form asks for a choice until it is one."""
    result = local(
        tmp_path,
        stdin="/go-start\ndeploy v3\n3h\n2h\njavascript:alert(1)\nhttps://t.example/CHG-1\n"
        "say db failover done\npin 3\npin 3\npin 9\n1\nreverted\nexploded\nrolled back\n"
        "/go-report\n",
    )
    out = result.stdout
    assert "[form: Start a GO session]" in out
    assert "! choose one of 30m, 1h, 2h, 4h" in out
    assert "! link: The link must be one http:// or https:// URL" in out
    assert out.index("! link:") < out.index("GO session started")  # nothing started before
    assert "Link:* https://t.example/CHG-1 · *Planned end:*" in out
    assert "[#local] [message 3]\n  @ULOCAL: db failover done" in out
    assert out.count(":pushpin: @ULOCAL added a message by @ULOCAL") == 1  # pinned twice: once
    assert "! Usage: pin N, N a message's number (1 to 4)" in out
    assert "[form: End the GO session] 9 of 9 playbook steps are still open." in out
    assert "! choose one of completed, rolled back, aborted" in out
    assert "*Session ended* by @ULOCAL after" in out and "*rolled back*" in out
    assert "*Timeline* 1 entries" in out and "*Planned end*" in out
    assert "*Link* https://t.example/CHG-1" in out
    assert result.returncode == 1 and "gobot: 4 command(s) failed" in result.stderr
    assert "Traceback" not in out + result.stderr


def test_a_form_left_at_the_end_of_input_submits_nothing(tmp_path: Path) -> None:
    result = local(tmp_path, stdin="/go-start\nhalf typed\n")
    assert "(form closed: nothing was submitted)" in result.stdout
    assert not (tmp_path / "data" / "local" / "go_session.json").exists()
