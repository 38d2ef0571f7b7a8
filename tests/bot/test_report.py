"""A session's report, three ways: `/go-report` in Slack (signed in, the loopback Slack out),
`gobot report` (what it prints, in this process; an exit code, from the real process), and
REST `GET /core/go/sessions[/{id}]`; on both stores."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.stores.json.audit import AUDIT_FILE
from tests.bot.conftest import SlackHarness, slack_date
from tests.bot.test_cli import gobot, printed, store_env
from tests.conftest import FakeClock, json_only

API_KEY = "test-api-key-not-real"


@pytest.fixture
def team(make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any]) -> SlackHarness:
    return make_harness(api_key=API_KEY, **store_settings)


def a_launch(team: SlackHarness, one: str = "U1", two: str = "U2") -> str:
    """A session with a note, a step, a handover (from `one` to `two`) and an end; its id."""
    assert "started" in team.run("/go-start", "launch v2 *bold*", user=one)
    team.run("/go-note", "canary at 5%", user=one)
    team.run("/go-complete", "1 read", user=one)
    team.run("/go-handover", f"<@{two}|bob> off shift", user=one)
    assert "ended" in team.run("/go-end", "all good", user=two)
    return team.services.sessions.get("C1").id or ""


def test_go_report_tells_the_whole_session(team: SlackHarness) -> None:
    assert "nothing to report" in team.run("/go-report")
    session_id = a_launch(team)
    text = team.run("/go-report", user="U9")  # everyone may read it
    at = slack_date("2026-01-01T09:00:00Z")  # each reader sees their own time zone
    for expected in (
        f"*GO session* {session_id} (ended)",
        f"*Started* {at} by <@U1>",
        f"*Ended* {at} by <@U2> after 0s",
        "*Owner* <@U2>",
        "*At the start* band A, health green",
        "*Notes* launch v2 *bold*",
        "*End notes* all good",
        "*Playbook* 1/9 steps",
        f"- 1. Confirm cone band and health: done by <@U1> at {at}",
        "- 2. Freeze unrelated changes: not done",
        "*Timeline* 2 entries",
        "<@U1>: canary at 5%",
        "<@U1> handed the session to <@U2>: off shift",
        "*Audit* 5 records of this session; the trail's records verify",
    ):
        assert expected in text, expected


def test_gobot_report_in_markdown_and_json(
    team: SlackHarness, data_dir: Path, store_settings: dict[str, Any]
) -> None:
    session_id = a_launch(team)
    team.run("/go-start", "the next one")  # without an id, the report is of this one
    env = store_env(store_settings)
    md = printed(data_dir, "report", session_id, "--format", "md", **env)
    assert md.startswith("# GO session report\n")
    assert "**Owner** U2" in md and r"launch v2 \*bold\*" in md
    assert "**Started** 2026-01-01T09:00:00Z by U1" in md  # UTC, to the second
    assert "- 2026-01-01T09:00:00Z U1: canary at 5%" in md
    assert "U1 handed the session to U2: off shift" in md
    report = json.loads(printed(data_dir, "report", session_id, "--format", "json", **env))
    assert report["session"]["id"] == session_id and report["audit_verified"] is True
    assert report["session"]["ended_at_utc"] == "2026-01-01T09:00:00Z"
    assert [e["kind"] for e in report["session"]["timeline"]] == ["note", "handover"]
    assert report["playbook"]["completed"] == 1
    current = json.loads(printed(data_dir, "report", "--format", "json", **env))
    assert current["session"]["notes"] == "the next one" and current["session"]["active"]
    unknown = gobot(data_dir, "report", "nope", **env)
    assert unknown.returncode == 1 and "no GO session with id 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


@json_only
def test_a_report_says_when_the_audit_trail_does_not_verify(
    team: SlackHarness, data_dir: Path
) -> None:
    session_id = a_launch(team)
    audit = data_dir / AUDIT_FILE
    audit.write_text(audit.read_text().replace("canary at 5%", "canary at 50%"))
    assert "the trail's records do NOT verify" in printed(data_dir, "report", session_id)
    raw = json.loads(printed(data_dir, "report", session_id, "--format", "json"))
    assert raw["audit_verified"] is False and len(raw["audit_records"]) == 5  # all of them


def test_rest_pages_ended_sessions_and_reports_one(team: SlackHarness, clock: FakeClock) -> None:
    ids = []
    for n in range(3):  # each by other people: one person's changes are rate limited
        ids.append(a_launch(team, f"U{n}A", f"U{n}B"))
        clock.advance(timedelta(minutes=5))
    headers = {"X-API-Key": API_KEY}
    first = team.http.get("/core/go/sessions?limit=2", headers=headers).json()
    assert [s["id"] for s in first["sessions"]] == ids[::-1][:2] and first["next_offset"] == 2
    rest = team.http.get("/core/go/sessions?offset=2&limit=2", headers=headers).json()
    assert [s["id"] for s in rest["sessions"]] == ids[:1] and rest["next_offset"] is None
    one = team.http.get(f"/core/go/sessions/{ids[0]}", headers=headers)
    assert one.status_code == 200 and one.json()["session"]["owner"] == "U0B"
    assert one.json()["session"]["ended_at_utc"].endswith("Z")
    missing = team.http.get("/core/go/sessions/nope", headers=headers)
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_session"
    assert team.http.get("/core/go/sessions").status_code == 401
    assert team.http.get("/core/go/sessions?limit=0", headers=headers).status_code == 422
