"""`/go-start` and `/go-end` with no text open their modal; a submission is checked beside its
fields (nothing started) and then runs. Signed payloads in, the loopback Slack out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.dev.fake_slack import view_submission_body
from tests.bot.conftest import SlackHarness, block_text, signed_headers
from tests.conftest import T0


@pytest.fixture
def team(make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any]) -> SlackHarness:
    return make_harness(**store_settings)


def submit(team: SlackHarness, callback_id: str, values: dict[str, str]) -> httpx.Response:
    body = view_submission_body(callback_id, "U1", "C1", values)
    return team.post(body, signed_headers(body))


def test_the_start_modal_opens_at_once_checks_its_fields_and_starts(team: SlackHarness) -> None:
    assert team.command("/go-start", "").status_code == 200
    [opened] = team.fake.wait_for_calls("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "go_start_modal" and view["private_metadata"] == "C1"
    assert opened.params["trigger_id"] == "1.2.3"
    assert team.fake.calls_to("chat.postMessage") == []  # nothing started by opening it

    bad = submit(team, "go_start_modal", {"notes": "x" * 2001, "link": "javascript:alert(1)"})
    assert bad.status_code == 200 and bad.json()["response_action"] == "errors"
    assert set(bad.json()["errors"]) == {"notes", "link"}
    assert "http://" in bad.json()["errors"]["link"]
    assert not team.services.sessions.get("C1").active  # nothing started

    good = submit(
        team,
        "go_start_modal",
        {"notes": "deploy v3", "planned": "1h", "link": "https://tickets.example/CHG-7"},
    )
    assert good.status_code == 200 and good.content == b""  # the modal closes
    [reply] = team.fake.wait_for_calls("chat.postEphemeral")
    assert reply.params["user"] == "U1" and "GO session started" in str(reply.params["blocks"])
    session = team.services.sessions.get("C1")
    assert session.link == "https://tickets.example/CHG-7" and session.notes == "deploy v3"
    assert session.planned_end_utc == T0 + timedelta(hours=1)
    post = next(m for m in team.fake.messages.values() if m.thread_ts is None)
    text = block_text(post.params)
    assert "<https://tickets.example/CHG-7|https://tickets.example/CHG-7>" in text
    assert "*Planned end:* <!date^" in text


def test_the_end_modal_records_the_outcome(team: SlackHarness) -> None:
    team.run("/go-start", "launch")
    assert team.command("/go-end", "").status_code == 200
    [opened] = team.fake.wait_for_calls("views.open")
    assert opened.params["view"]["callback_id"] == "go_end_modal"
    assert team.services.sessions.get("C1").active  # opening ends nothing
    forged = submit(team, "go_end_modal", {"notes": "", "outcome": "exploded"})
    assert forged.status_code == 200
    [refusal] = team.fake.wait_for_calls("chat.postEphemeral")
    assert "The outcome must be one of" in str(refusal.params["blocks"])
    assert team.services.sessions.get("C1").active
    submit(team, "go_end_modal", {"notes": "reverted", "outcome": "rolled back"})
    team.fake.wait_for_calls("chat.postEphemeral", 2)
    ended = team.services.sessions.history(1)[0]
    assert ended.outcome == "rolled back" and ended.end_notes == "reverted"
    summary = next(
        m for m in team.fake.messages.values() if "Session ended" in block_text(m.params)
    )
    assert "*rolled back*" in block_text(summary.params)
