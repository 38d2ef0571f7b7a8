from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from bot.bootstrap import build_services
from bot.settings import Settings
from core.services import Services
from tests.conftest import FakeClock, gobot_here, json_only, outside_env, run_gobot
from tests.core.test_datadir import unshare_problem


def gobot(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real process: for exit codes, what goes to stderr, and start-up."""
    return run_gobot(*args, env=outside_env(GOBOT_DATA_DIR=str(data_dir), **env))


def printed(data_dir: Path, *args: str, **env: str) -> str:
    """What the command prints, run in this process; it must succeed."""
    result = gobot_here(*args, env={"GOBOT_DATA_DIR": str(data_dir), **env})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_status_with_no_session(data_dir: Path) -> None:
    result = gobot(data_dir, "status")
    assert result.returncode == 0
    assert result.stdout.strip() == "No GO session yet."


def store_env(store_settings: dict[str, Any]) -> dict[str, str]:
    return {f"GOBOT_{key.upper()}": str(value) for key, value in store_settings.items()}


def test_status_shows_the_active_session(
    services: Services, data_dir: Path, store_settings: dict[str, Any]
) -> None:
    session = services.sessions.start("U1", "C1", "deploying").session
    result = gobot(data_dir, "status", **store_env(store_settings))
    assert result.returncode == 0
    assert f"GO session {session.id} (ACTIVE)" in result.stdout
    assert "started  2026-01-01T09:00:00Z by U1 in C1" in result.stdout  # to the second
    assert "band A, health green" in result.stdout and "deploying" in result.stdout
    as_json = json.loads(gobot(data_dir, "status", "--json", **store_env(store_settings)).stdout)
    assert as_json["id"] == session.id and as_json["active"] is True
    assert as_json["started_at_utc"] == "2026-01-01T09:00:00Z"
    assert as_json["snapshot"]["taken_at_utc"] == "2026-01-01T09:00:00Z"


@json_only
def test_audit_verify_exit_codes(services: Services, data_dir: Path) -> None:
    services.sessions.start("U1", "C1", "")
    services.sessions.end("U1", "C1", "")
    ok = gobot(data_dir, "audit", "verify")
    assert ok.returncode == 0 and "intact: 2 records" in ok.stdout
    log = data_dir / "audit.log"
    log.write_text(log.read_text().replace('"actor":"U1"', '"actor":"U2"', 1))
    broken = gobot(data_dir, "audit", "verify")
    assert broken.returncode == 1
    assert "line 1" in broken.stderr and "edited" in broken.stderr


def test_bad_setting_is_one_line_naming_the_variable(data_dir: Path) -> None:
    for variable, value in [
        ("GOBOT_SOURCE_TIMEOUT", "soon"),
        ("GOBOT_SESSION_SCOPE", "team"),
        ("GOBOT_HEALTH_SOURCE", "ftp://x"),
        ("GOBOT_CONE_SOURCE", "python:no_such_module_xyz:f"),
    ]:
        result = gobot(data_dir, "status", **{variable: value})
        assert result.returncode == 2, variable
        assert result.stderr.startswith(f"gobot: invalid {variable}: "), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr


def test_corrupted_store_is_reported_without_traceback(data_dir: Path) -> None:
    (data_dir / "go_session.json").write_text("{oops")
    result = gobot(data_dir, "status")
    assert result.returncode == 1
    assert "go_session.json is not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_history_in_every_format(
    services: Services, data_dir: Path, clock: FakeClock, store_settings: dict[str, Any]
) -> None:
    for n in range(3):
        services.sessions.start(f"U{n}", "C1", f"run {n} | with, commas\nand lines")
        clock.advance(timedelta(minutes=5 + n))
        services.sessions.end("U9", "C1", "done", outcome="rolled back" if n == 2 else "completed")
    ids = [s.id or "" for s in services.sessions.history(3)]
    env = store_env(store_settings)
    table = printed(data_dir, "history", "--last", "2", **env)
    assert [line.split()[0] for line in table.strip().splitlines()] == ids[:2]
    assert f"{ids[0]}  2026-01-01T09:11:00Z  {'7m':>8}  U2 -> U9  A/green -> A/green  " in table
    assert "rolled back  run 2" in table
    rows = json.loads(printed(data_dir, "history", "--format", "json", **env))
    assert [r["id"] for r in rows] == ids and [r["started_by"] for r in rows] == ["U2", "U1", "U0"]
    assert (rows[0]["started_at_utc"], rows[0]["ended_at_utc"]) == (
        "2026-01-01T09:11:00Z",
        "2026-01-01T09:18:00Z",
    )
    assert rows[0]["duration"] == "7m" and rows[0]["notes"].startswith("run 2 |")
    assert [r["outcome"] for r in rows] == ["rolled back", "completed", "completed"]
    parsed = list(
        csv.DictReader(io.StringIO(printed(data_dir, "history", "--format", "csv", **env)))
    )
    assert [r["id"] for r in parsed] == ids and parsed[0]["started_at_utc"].endswith(":11:00Z")
    assert parsed[0]["notes"] == "run 2 | with, commas\nand lines"
    markdown = printed(data_dir, "history", "--format", "md", **env).splitlines()
    assert markdown[0].startswith("| id | started_at_utc | ")
    assert len(markdown) == 2 + 3 and all(line.count(" | ") == 13 for line in markdown[2:])
    assert [line.split(" | ")[0] for line in markdown[2:]] == [f"| {i}" for i in ids]
    assert "run 2 \\| with, commas and lines" in markdown[2]
    report = printed(data_dir, "report", table.split()[0], **env)  # an id from the table
    assert f"**GO session** {ids[0]} (ended)" in report and "rolled back" in report
    bad = gobot(data_dir, "history", "--last", "0", **env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_audit_verify_of_a_new_data_dir_is_intact_and_of_a_missing_one_fails(
    tmp_path: Path,
) -> None:
    """Nothing recorded yet is an intact trail of 0 records; a data dir that is not there is
    a wrong GOBOT_DATA_DIR. Neither is created or written."""
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    new = run_gobot("audit", "verify", env=outside_env(GOBOT_DATA_DIR=str(fresh)))
    assert new.returncode == 0 and new.stdout == "audit chain intact: 0 records\n", new.stderr
    assert new.stderr == ""
    missing = tmp_path / "nonexistent" / "x"
    wrong = run_gobot("audit", "verify", env=outside_env(GOBOT_DATA_DIR=str(missing)))
    assert wrong.returncode == 1 and f"no gobot data at {missing}" in wrong.stderr
    assert "intact" not in wrong.stdout and "Traceback" not in wrong.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["fresh"] and list(fresh.iterdir()) == []


def test_audit_verify_of_the_parent_of_the_demo_points_at_the_demo(tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    services = build_services(Settings(data_dir=local))
    services.sessions.start("U1", "C1", "")
    result = gobot_here("audit", "verify", env={"GOBOT_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0 and result.stdout == "audit chain intact: 0 records\n"
    assert f"`gobot local` keeps its own audit trail, in {local}" in result.stderr


def test_help_version_and_settings_are_named(tmp_path: Path) -> None:
    version = run_gobot("--version", env=outside_env())
    assert version.returncode == 0 and version.stdout.startswith("gobot, version ")
    short = run_gobot("-h", env=outside_env())
    assert short.returncode == 0 and "GOBOT_DATA_DIR" in short.stdout
    serve_help = run_gobot("serve", "--help", env=outside_env())
    assert "/metrics" in serve_help.stdout and "REST" in serve_help.stdout


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GOBOT_TICK": "0s"}, "invalid GOBOT_TICK: must be longer than 0s"),
        ({"GOBOT_REMIND_EVERY": "0m"}, "invalid GOBOT_REMIND_EVERY: must be longer than 0s"),
        ({"GOBOT_SLACK_TIMEOUT": "0s"}, "invalid GOBOT_SLACK_TIMEOUT"),
        ({"SLACK_APP_TOKEN": "xoxb-1-2"}, "SLACK_APP_TOKEN: holds an xoxb-… token"),
        ({"SLACK_BOT_TOKEN": "xapp-1-2"}, "SLACK_BOT_TOKEN: holds an xapp-… token"),
        (
            {"GOBOT_STORE": "postgres", "GOBOT_DATABASE_URL": "mysql://u@h/db"},
            "invalid GOBOT_DATABASE_URL: must be a postgresql:// URL",
        ),
        ({"GOBOT_REMIND_AFTER": "soon"}, "invalid GOBOT_REMIND_AFTER"),
        ({"GOBOT_REMIND_AFTER": "999999999d"}, "invalid GOBOT_REMIND_AFTER: must be at most 366d"),
        ({"GOBOT_DIGEST_AT": "monday 9am"}, "invalid GOBOT_DIGEST_AT: expected e.g. 'mon 09:00"),
        ({"GOBOT_DIGEST_AT": "mon 25:00"}, "invalid GOBOT_DIGEST_AT: no such time of day"),
        ({"GOBOT_DIGEST_AT": "mon 09:00 Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"GOBOT_DIGEST_CHANNEL": "#ops"}, "invalid GOBOT_DIGEST_CHANNEL: '#ops' is not a Slack"),
    ],
)
def test_settings_that_cannot_be_right_are_one_line(
    data_dir: Path, env: dict[str, str], expected: str
) -> None:
    result = gobot(data_dir, "status", **env)
    assert result.returncode == 2 and expected in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "xoxb-1-2" not in result.stderr


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9/api/", "Connection refused"),
        ("http://gobot-test.invalid/api/", ""),  # no such name: DNS fails
    ],
)
def test_serve_with_slack_out_of_reach_is_one_line(data_dir: Path, url: str, reason: str) -> None:
    """Only gobot's own line: not slack_sdk's line for every try and retry before it."""
    result = gobot(
        data_dir,
        "serve",
        SLACK_BOT_TOKEN="xoxb-test-not-a-real-token",
        SLACK_SIGNING_SECRET="test-signing-secret-not-real",
        SLACK_API_URL=url,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"gobot: cannot reach Slack at {url} (") and reason in line
    assert line.endswith(
        "check the network and SLACK_API_URL (unset, it is https://slack.com/api/)"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--url", "gobot.example.com"), "--url must start with https://"),
        (("--url", "http://gobot.example.com"), "--url must start with https://"),
        (("--socket", "--url", "https://gobot.example.com"), "--socket takes no --url"),
    ],
)
def test_manifest_refuses_urls_slack_would_not_call(
    data_dir: Path, args: tuple[str, ...], expected: str
) -> None:
    result = gobot(data_dir, "manifest", *args)
    assert result.returncode == 2 and expected in result.stderr


def test_history_in_channel_scope_lists_every_channel_unless_one_is_named(
    make_services: Any, green: Path, data_dir: Path, store_settings: dict[str, Any]
) -> None:
    env = {**store_env(store_settings), "GOBOT_SESSION_SCOPE": "channel"}
    services = make_services(session_scope="channel")
    for channel in ("C1", "C2"):
        services.sessions.start("U1", channel, f"in {channel}")
        services.sessions.end("U1", channel, "")
    every = printed(data_dir, "history", "--format", "json", **env)
    assert {row["notes"] for row in json.loads(every)} == {"in C1", "in C2"}
    one = printed(data_dir, "history", "--channel", "C2", "--format", "json", **env)
    assert [row["notes"] for row in json.loads(one)] == ["in C2"]


def test_reading_commands_on_a_missing_data_dir_say_so_and_create_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "x"
    for args in (("status",), ("history",), ("audit", "verify")):
        result = run_gobot(*args, env=outside_env(GOBOT_DATA_DIR=str(missing)))
        assert result.returncode == 1 and str(missing) in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


FIX = "set GOBOT_DATA_DIR to a directory gobot may write (a missing one is created)"


@pytest.mark.parametrize("command", ["serve", "local"])
@pytest.mark.parametrize(
    ("where", "problem"),
    [("file", "it is a file, not a directory"), ("file/data", "{tmp}/file is a file")],
)
def test_a_data_dir_that_is_a_file_is_one_line_naming_the_setting_and_the_fix(
    tmp_path: Path, command: str, where: str, problem: str
) -> None:
    (tmp_path / "file").write_text("not a directory")
    env = outside_env(
        GOBOT_DATA_DIR=str(tmp_path / where),
        SLACK_BOT_TOKEN="xoxb-test-not-a-real-token",
        SLACK_SIGNING_SECRET="test-signing-secret-not-real",
        SLACK_API_URL="http://127.0.0.1:9/api/",
    )
    result = run_gobot(command, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    expected = f"gobot: GOBOT_DATA_DIR {tmp_path / where} cannot be used: "
    expected += problem.format(tmp=tmp_path) + "; " + FIX
    assert result.stderr.splitlines() == [expected]
    assert (tmp_path / "file").read_text() == "not a directory"


def test_a_read_only_data_dir_is_one_line_for_serve_and_local(data_dir: Path) -> None:
    problem = unshare_problem()
    if problem is not None:
        pytest.skip(problem)
    gobot_ = f"{sys.executable} -m bot"
    script = (
        f"mount --bind -o ro {data_dir} {data_dir} && "
        f"{{ {gobot_} serve; echo serve=$?; {gobot_} local </dev/null; echo local=$?; }}"
    )
    result = subprocess.run(
        ["unshare", "-m", "bash", "-c", script],
        env=outside_env(
            GOBOT_DATA_DIR=str(data_dir),
            SLACK_BOT_TOKEN="xoxb-test-not-a-real-token",
            SLACK_SIGNING_SECRET="test-signing-secret-not-real",
            SLACK_API_URL="http://127.0.0.1:9/api/",
        ),
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.stdout.split() == ["serve=2", "local=2"], result.stderr
    line = f"gobot: GOBOT_DATA_DIR {data_dir} cannot be used: it is on a read-only file system; "
    assert result.stderr.splitlines() == [line + FIX] * 2


@pytest.mark.parametrize("store_settings", ["postgres"], indirect=True)
def test_a_database_that_does_not_exist_is_said_at_once(
    data_dir: Path, store_settings: dict[str, Any]
) -> None:
    url = str(store_settings["database_url"]).split("?")[0].rsplit("/", 1)[0] + "/no_such_db"
    result = gobot(data_dir, "status", GOBOT_STORE="postgres", GOBOT_DATABASE_URL=url)
    assert result.returncode == 2 and 'database "no_such_db" does not exist' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # no pool warnings first


@json_only
def test_history_of_one_channel_in_workspace_scope(services: Services, data_dir: Path) -> None:
    for channel in ("C1", "C2", "C1"):
        services.sessions.start("U1", channel, f"in {channel}")
        services.sessions.end("U1", channel, "")
    one = printed(data_dir, "history", "--channel", "C2", "--format", "json")
    assert [row["notes"] for row in json.loads(one)] == ["in C2"]


def test_windows_in_every_format(
    services: Services, data_dir: Path, store_settings: dict[str, Any]
) -> None:
    env = store_env(store_settings)
    assert "No GO windows planned." in printed(data_dir, "windows", **env)
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)  # the CLI's clock
    window = services.windows.schedule(
        "U1", "C1", starts, timedelta(hours=2), notes="db upgrade\nsecond line"
    )
    shown = starts.strftime("%Y-%m-%dT%H:%M:%SZ")  # to the second, in UTC, with the zone
    header, row = printed(data_dir, "windows", **env).splitlines()
    assert header.split() == [
        "id",
        "kind",
        "starts",
        "(UTC)",
        "length",
        "channel",
        "by",
        "notes",
    ]
    assert row.split() == [window.id, "window", shown, "2h", "00m", "C1", "U1", "db", "upgrade"]
    assert [header.index(c) for c in ("kind", "starts", "length", "channel", "by", "notes")] == [
        row.index(c) for c in ("window", shown, "2h 00m", "C1", "U1", "db upgrade")
    ]
    rows = json.loads(printed(data_dir, "windows", "--format", "json", **env))
    assert [(r["id"], r["starts_at_utc"]) for r in rows] == [(window.id, shown)]
    calendar = Calendar.from_ical(printed(data_dir, "windows", "--format", "ics", **env))
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == starts and str(event["uid"]) == f"{window.id}@gobot"
    frozen = services.windows.schedule_freeze(
        "U2", "C1", starts + timedelta(days=1), timedelta(days=2), "year-end"
    )
    *_, last = printed(data_dir, "windows", **env).splitlines()
    assert last.split()[:2] == [frozen.id, "freeze"] and last.endswith("year-end")


HEAVY = ("slack_bolt", "slack_sdk", "fastapi", "starlette", "uvicorn", "psycopg", "httpx")
IMPORTED = """
import sys
from bot.cli import main
try:
    main(sys.argv[2:])
except SystemExit as done:
    assert not done.code, done.code
print(sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[1].split(","))))
"""


@pytest.mark.parametrize("args", [["--help"], ["status"], ["history"]])
def test_help_and_reads_on_the_json_store_start_without_slack_web_or_database(
    data_dir: Path, args: list[str]
) -> None:
    """What makes a start slow is never imported for them (each command imports what it
    needs); how fast they start is a measurement, not a test."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORTED, ",".join(HEAVY), *args],
        env=outside_env(GOBOT_DATA_DIR=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]", result.stdout


def test_report_and_history_of_a_channel_in_workspace_scope_are_that_channel_s(
    services: Services, data_dir: Path, clock: FakeClock, store_settings: dict[str, Any]
) -> None:
    """One session at a time in the workspace: --channel still means that channel's."""
    env = store_env(store_settings)
    services.sessions.start("U1", "C2", "in C2")
    clock.advance(timedelta(minutes=5))
    services.sessions.end("U1", "C2", "")
    services.sessions.start("U1", "C1", "in C1")  # the workspace's session now
    none = gobot(data_dir, "report", "--channel", "CNOPE", **env)
    assert none.returncode == 1 and none.stdout == "", none.stdout
    assert none.stderr == "gobot: No GO session in channel CNOPE: there is nothing to report.\n"
    c2 = json.loads(printed(data_dir, "report", "--channel", "C2", "--format", "json", **env))
    assert (c2["session"]["channel"], c2["session"]["notes"]) == ("C2", "in C2")
    c1 = json.loads(printed(data_dir, "report", "--channel", "C1", "--format", "json", **env))
    assert c1["session"]["notes"] == "in C1" and c1["session"]["active"]
    assert printed(data_dir, "history", "--channel", "CNOPE", **env) == (
        "No ended GO session in channel CNOPE.\n"
    )
    assert (
        json.loads(printed(data_dir, "history", "--channel", "CNOPE", "--format", "json", **env))
        == []
    )
    assert "in C2" in printed(data_dir, "history", "--channel", "C2", **env)


def tree(directory: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under `directory`: its size, modification time and bytes."""
    return {
        str(path.relative_to(directory)): (
            path.stat().st_size,
            path.stat().st_mtime_ns,
            path.read_bytes(),
        )
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


READING = (("status",), ("history",), ("report",), ("windows",), ("audit", "verify"))


@json_only
def test_reading_commands_write_nothing_into_the_data_dir(
    services: Services, data_dir: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in READING:
        run_gobot(*args, env=outside_env(GOBOT_DATA_DIR=str(empty)))
    assert list(empty.iterdir()) == []  # no go_journal.wal either
    services.sessions.start("U1", "C1", "")
    services.sessions.end("U1", "C1", "")
    services.sessions.start("U2", "C1", "")
    services.windows.schedule("U1", "C1", datetime.now(UTC) + timedelta(days=1), timedelta(hours=1))
    before = tree(data_dir)
    for args in READING:
        result = gobot(data_dir, *args)
        assert result.returncode == 0, (args, result.stderr)
    assert tree(data_dir) == before


def test_preview_usage_and_help_keep_each_kind_whole() -> None:
    from bot.dev.preview import KINDS

    for columns in ("40", "60", "80"):
        usage = gobot_here("preview", env={"COLUMNS": columns})
        assert usage.exit_code == 2
        assert usage.stderr.splitlines()[0].endswith(" preview [OPTIONS] KIND")
        assert "Missing argument 'KIND'" in usage.stderr and "schedule-form" in usage.stderr
        helped = gobot_here("preview", "--help", env={"COLUMNS": columns})
        listed = helped.stdout.split("KIND is one of:\n", 1)[1].replace("\n", ",").split(",")
        assert [kind.strip() for kind in listed if kind.strip()] == list(KINDS), helped.stdout


README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_s_cli_lines_name_only_commands_options_and_formats_that_exist() -> None:
    """Each `.venv/bin/gobot …` line of README's command list, against the command itself."""
    import click

    from bot.cli import main

    block = README.read_text(encoding="utf-8").split("Everything else:\n\n```sh\n", 1)[1]
    lines = [line for line in block.split("```", 1)[0].splitlines() if line.strip()]
    assert {line.split()[1] for line in lines} == set(main.commands)  # every command
    for line in lines:
        usage = line.split("#", 1)[0].split()
        assert usage[0] == ".venv/bin/gobot", line
        command: click.Command = main
        for word in usage[1:]:
            if not isinstance(command, click.Group) or not word.isalpha():
                break
            found = command.get_command(click.Context(main), word)
            assert found is not None, line
            command = found
        options = {opt: p for p in command.params for opt in p.opts}
        for option, choices in re.findall(r"\[?(--[a-z-]+)(?:[ =]([a-z|]+))?", line):
            assert option in options, line
            if "|" in choices:
                assert choices.split("|") == list(options[option].type.choices), line  # type: ignore[attr-defined]
