"""`gobot local`'s words besides slash commands and buttons: `wait` on the demo's own clock,
`say` and `pin N`, `gate`, `health` and `band`; the CLI as a subprocess, with stdin or a
script (`deploy` is tested with the demo's GitHub, in test_local_github.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.bot.dev.test_local import local


def test_wait_moves_the_demos_clock_and_the_due_work_comes_in_order(tmp_path: Path) -> None:
    """Default settings (a 15s tick): `wait` does not sleep (3h would outlive run_gobot's
    timeout); the planned end's reminders, a window's reminder, prompt and miss, and the weekly
    digest come when the moved clock reaches them, in order."""
    digest = datetime.now(UTC) + timedelta(hours=3)  # its hour: 2h to 3h from now
    window = (datetime.now(UTC) + timedelta(minutes=75)).strftime("%Y-%m-%dT%H:%MZ")
    result = local(
        tmp_path,
        stdin=f"/go-start\nplanned\n30m\n\n/go-schedule {window} 1h upgrade\nwait 31m\n"
        "wait 30m\nwait 10m\nwait 2h\n",
        GOBOT_DIGEST_CHANNEL="CLOCAL",
        GOBOT_DIGEST_AT=digest.strftime("%a %H:00 UTC"),
    )
    out = result.stdout
    assert result.returncode == 0, out[-2000:] + result.stderr
    parts = out.split("> wait ")
    # to the tick, as in `serve`: "open for 20m" or, a tick late, "20m 05s"
    assert "this GO session is due to end in *10m* (open for 20m" in parts[1]
    assert "this GO session has reached its planned end (open for 30m" in parts[1]
    assert parts[1].endswith("(31m later: it is " + parts[1].rsplit("it is ", 1)[1])
    assert ":calendar: A GO window starts" in parts[2] and "(30m later: it is " in parts[2]
    assert ") Start now (asks first)\n" in parts[2]  # the window has not started yet
    assert parts[3].startswith("10m\n(10m later: it is ")  # nothing was due
    last = parts[4]
    assert last.index(":arrow_forward: @ULOCAL, your GO window starts now") < last.index(
        "GO window planned for"
    )
    prompt = last.split(":arrow_forward:", 1)[1].split("[#local", 1)[0]
    assert ") Start now\n" in prompt  # the window has started: Start now does not ask
    assert "was missed" in last and "GO weekly digest" in last
    assert "overrun its planned end by *1h 00m*" in last
    moved = datetime.fromisoformat(last.split("(2h 00m later: it is ", 1)[1][:20])
    assert moved - datetime.now(UTC) > timedelta(hours=3)


def test_say_posts_a_message_and_pin_adds_it_to_the_timeline_once(tmp_path: Path) -> None:
    """`say` posts a message, `pin N` adds it to the timeline through the real reaction event,
    once; a number that is no message's is refused."""
    result = local(
        tmp_path, stdin="/go-start x\nsay db failover done\npin 3\npin 3\npin 9\n/go-report\n"
    )
    out = result.stdout
    assert "[#local] [message 3]\n  @ULOCAL: db failover done" in out
    assert out.count(":pushpin: @ULOCAL added a message by @ULOCAL") == 1  # pinned twice: once
    assert "> pin 3\n(message 3 is already on the session's timeline)\n" in out
    assert "! Usage: pin N, N a message's number (1 to 4)" in out
    assert "*Timeline* 1 entries" in out
    assert result.returncode == 1 and "gobot: 1 command(s) failed" in result.stderr


def test_gate_asks_as_a_ci_job_would_and_its_line_shows(tmp_path: Path) -> None:
    result = local(tmp_path, "gate\n/go-start release\ngate 2\ngate nope\nexit\n")
    out = result.stdout
    assert "(the gate answers a CI job: denied: No GO session is active here" in out
    assert "GO gate: change asked by ci: denied." in out  # its line in the channel
    assert "(the gate answers a CI job: pending: Step 2 (Freeze unrelated changes) is not " in out
    assert ":vertical_traffic_light: cli:ci: change (step 2): pending." in out
    assert "There is no step 'nope'" in out
    assert result.returncode == 1 and "Traceback" not in out + result.stderr


def test_the_demo_starts_healthy_and_health_can_be_set(tmp_path: Path) -> None:
    result = local(
        tmp_path, stdin='/go-start go\n/go-complete 1\nhealth red "db lag"\n/go-complete 2\n'
    )
    out = result.stdout
    assert "Step *1. Confirm cone band and health* done" in out
    assert "(health is now red: db lag)" in out
    assert "was not completed: health is red (db lag)" in out
    assert not (tmp_path / "data" / "go_session.json").exists()  # serve's state untouched


def test_health_and_band_words_are_split_as_a_shell_splits_them(tmp_path: Path) -> None:
    result = local(
        tmp_path,
        stdin='health yellow "queue lag" extra\nband C \'cone "wide"\'\nhealth red "open\n'
        "health green\n",
    )
    out = result.stdout
    assert "(health is now yellow: queue lag extra)" in out
    assert '(band is now C: cone "wide")' in out
    assert '! health: No closing quotation; e.g. health red "why"' in out
    assert "(health is now green: set by hand)" in out
    assert "gobot: 1 command(s) failed" in result.stderr
