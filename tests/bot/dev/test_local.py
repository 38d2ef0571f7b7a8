"""`gobot local`: the whole bot in a terminal, through the real pipeline, with no Slack."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import outside_env, run_gobot, wait_until

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


def test_bad_input_is_explained_in_a_line_changes_nothing_and_fails_the_script(
    tmp_path: Path,
) -> None:
    result = local(
        tmp_path, stdin="xyzzy\nhelth green\n42\nwait soon\n/go-end\n# fine\nhelp\nexit\n"
    )
    assert result.returncode == 1 and "gobot: 5 command(s) failed" in result.stderr
    out = result.stdout
    assert "> xyzzy\n! Not a command: `help` lists them.\n" in out
    assert "> helth green\n! Not a command: did you mean health? (`help` lists them)\n" in out
    assert "! No such button." in out
    assert "invalid duration 'soon'" in out and "no active GO session" in out
    assert "# fine" in out
    assert out.count("Type a slash command") == 2  # at the start, and for `help`: never a typo
    assert not (tmp_path / "data" / "local" / "go_session.json").exists()


def test_an_unknown_command_is_answered_at_once_with_the_nearest_or_the_list(
    tmp_path: Path,
) -> None:
    result = local(tmp_path, stdin="/go-strat\n/go-sesion now\n/deploy\n")
    out = result.stdout
    assert "no answer yet" not in out + result.stderr  # no wait for a reply
    assert "> /go-strat\n! Unknown command /go-strat: did you mean /go-start?\n> " in out
    assert "! Unknown command /go-sesion: did you mean /go-session?\n" in out
    assert "! Unknown command /deploy. The commands: /go, /go-start" in out
    assert "HTTP 404" not in out and out.count("Type a slash command") == 1


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
    opening = second.stdout.split("> /go-session", 1)[0]
    assert "(a GO session from an earlier run is still open: started " in opening
    assert "Z by @ULOCAL; /go-session shows it, /go-end ends it)" in opening
    assert ":large_green_circle: green" in second.stdout  # every run starts healthy
    assert "made in an earlier run: not updated" in second.stdout
    assert "GO session ended; summary posted" in second.stdout


def reading_stdin(pid: int) -> bool:
    """Whether the process's main thread is blocked reading its standard input (Linux: the
    system call it is in, number 0 `read` on descriptor 0), as a person's Ctrl-C finds a
    prompt: a signal sent while the line before is still being printed is another test."""
    try:
        return Path(f"/proc/{pid}/syscall").read_text().startswith("0 0x0 ")
    except OSError:
        return False


def test_ctrl_c_stops_the_running_command_not_the_demo(tmp_path: Path) -> None:
    """SIGINT, as Ctrl-C sends it, to the real process: in the middle of a long `wait`, then
    while a form waits for a field."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "local"],
        env=outside_env(),
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    seen: list[str] = []

    def type_then_read(lines: str, until: str) -> None:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(lines)
        process.stdin.flush()
        while until not in "".join(seen):
            line = process.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)

    # each answer waits for the one before (a line sent as the signal lands may be lost)
    type_then_read("/go-start long\nwait 300d\n", "> wait 300d")
    process.send_signal(signal.SIGINT)
    type_then_read("", "(interrupted")
    type_then_read("/go-end\n", "  End notes:")
    wait_until(lambda: reading_stdin(process.pid), what="the form waiting for its field")
    process.send_signal(signal.SIGINT)
    type_then_read("", "(form closed: nothing was submitted)")
    out, err = process.communicate("/go-end done\n", timeout=60)
    out = "".join(seen) + out
    assert process.returncode == 0, err
    assert out.index("(interrupted") < out.index("[form: End the GO session]")
    # ended once, by the typed command (its summary posted, or being posted by a tick)
    assert out.count("GO session ended;") == 1
    assert "GO session ended;" in out.split("(form closed", 1)[1]


def test_a_button_number_belongs_to_the_rendering_that_showed_it(tmp_path: Path) -> None:
    """Step 5's Complete from the playbook's first rendering is refused once the message was
    edited; its number in the newest rendering works."""
    result = local(tmp_path, stdin="/go-start x\n/go-complete 1\n10\n/go-checklist\n24\n")
    out = result.stdout
    assert ":white_large_square: *5.* Deploy to canary `canary`  (10) Complete" in out
    assert ":white_large_square: *5.* Deploy to canary `canary`  (24) Complete" in out
    assert (
        "! Button 10 is on an earlier version of message 2, which has changed since: Slack "
        "shows only its latest version; press one of its newer numbers." in out
    )
    checklist = out.split("> /go-checklist", 1)[1].split("> 24", 1)[0]
    assert ":white_large_square: *5.* Deploy to canary" in checklist  # nothing was done
    assert "Step *5. Deploy to canary* done" in out.split("> 24", 1)[1]
    assert "gobot: 1 command(s) failed" in result.stderr


def test_readmes_first_session_works_line_by_line_as_typed(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    block = readme.split("A first session, line by line", 1)[1].split("```text\n", 1)[1]
    lines = block.split("\n```", 1)[0]
    assert "/go-handover @alice going off shift" in lines and "wait 61m" in lines
    result = local(tmp_path, lines + "\n")
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr
    assert "You are @ULOCAL; @alice, @bob are here too" in out
    assert ":arrows_counterclockwise: @UALICE owns the GO session now." in out
    assert "> pin 4\n[#local, in thread] [message 5]\n  :pushpin: @ULOCAL added a message" in out
    assert "open for *1h 00m* (reminder 1)" in out
    assert "(health is now yellow: queue lag above 30s)" in out
    assert "*Drift:* health green → yellow" in out and "GO session ended; summary posted." in out
