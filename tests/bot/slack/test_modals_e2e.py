"""`/go-start` and `/go-end` with no text open their modal; a submission is checked beside its
fields (nothing started) and then runs. Signed payloads in, the loopback Slack out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.dev.slack_requests import view_submission_body
from bot.slack.capability import Place
from tests import slow_sources
from tests.bot.conftest import SlackHarness, block_text, signed_headers
from tests.conftest import T0, FakeClock, audit_records


@pytest.fixture
def team(make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any]) -> SlackHarness:
    return make_harness(api_key="k" * 32, **store_settings)


def submit(team: SlackHarness, callback_id: str, values: dict[str, str]) -> httpx.Response:
    body = view_submission_body(callback_id, "U1", "C1", values)
    return team.post(body, signed_headers(body))


def test_the_start_modal_opens_at_once_checks_its_fields_and_starts(team: SlackHarness) -> None:
    assert team.command("/go-start", "").status_code == 200
    [opened] = team.fake.wait_for_calls("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "go_start_modal" and Place.read(
        view["private_metadata"]
    ) == Place(channel="C1")
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


def test_outcome_and_link_show_in_history_and_rest(team: SlackHarness) -> None:
    submit(team, "go_start_modal", {"notes": "n", "link": "https://t.example/CHG-9"})
    team.fake.wait_for_calls("chat.postEphemeral")
    submit(team, "go_end_modal", {"notes": "", "outcome": "aborted"})
    team.fake.wait_for_calls("chat.postEphemeral", 2)
    history = team.run("/go-history")
    assert "*aborted*" in history and "<https://t.example/CHG-9|link>" in history
    headers = {"X-API-Key": "k" * 32}
    [listed] = team.http.get("/core/go/sessions", headers=headers).json()["sessions"]
    assert (listed["outcome"], listed["link"]) == ("aborted", "https://t.example/CHG-9")
    one = team.http.get(f"/core/go/sessions/{listed['id']}", headers=headers).json()
    assert one["session"]["outcome"] == "aborted"


def test_forms_open_before_slow_work(
    make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any], held_health: str
) -> None:
    """A health source that hangs holds up no form: the end form opens (at the loopback
    Slack) while the channel is still busy reading health for a step, before that step is
    answered."""
    slow_sources.RELEASE.set()  # the start reads health at once
    team = make_harness(health_source=held_health, source_timeout="1m", **store_settings)
    team.run("/go-start", "launch", user="U1")
    slow_sources.RELEASE.clear()
    step = team.command("/go-complete", "1", user="U1")  # reads health: until released
    team.command("/go-end", "", user="U1")
    [opened] = team.fake.wait_for_calls("views.open")
    slow_sources.RELEASE.set()
    team.reply(step)
    answered = next(c for c in team.fake.responses if c.method == step.token)  # type: ignore[attr-defined]
    assert opened.params["view"]["callback_id"] == "go_end_modal"
    assert opened.at < answered.at  # not queued behind the step
    submit(team, "go_end_modal", {"notes": "", "outcome": "completed"})
    team.fake.wait_for_calls("chat.postEphemeral")
    assert not team.services.sessions.get("C1").active
    team.command("/go-complete", "1", user="U1")  # no session: refused, after reading nothing
    team.command("/go-start", "", user="U1")
    start_form = team.fake.wait_for_calls("views.open", 2)[-1]
    assert start_form.params["view"]["callback_id"] == "go_start_modal"


def test_a_form_that_cannot_be_used_is_not_opened(team: SlackHarness) -> None:
    """No end form without an active session, no start form beside one: the refusal at once."""
    assert "There is no active GO session to end." in team.run("/go-end", "")
    team.run("/go-start", "launch", user="U2")
    assert "A GO session is already active: started by <@U2>" in team.run("/go-start", "")
    assert team.fake.calls_to("views.open") == []


def reminders(team: SlackHarness) -> list[str]:
    return [
        block_text(c.params)
        for c in team.fake.calls_to("chat.postMessage")
        if "(reminder " in block_text(c.params)
    ]


def test_a_planned_end_shapes_the_reminders(
    make_harness: Callable[..., SlackHarness],
    store_settings: dict[str, Any],
    clock: FakeClock,
) -> None:
    """With a planned end of 30m: one reminder 10m before it, one at it, then the usual
    cadence while it overruns; each mentions the owner of the moment."""
    team = make_harness(
        operators=["U1", "U2"], remind_after="60m", remind_every="60m", **store_settings
    )
    submit(team, "go_start_modal", {"notes": "deploy", "planned": "30m"})
    team.fake.wait_for_calls("chat.postEphemeral")

    def at(minutes: int) -> list[str]:
        clock.advance(T0 + timedelta(minutes=minutes) - clock.now())
        team.tick()
        return reminders(team)

    assert at(19) == []
    [due] = at(20)
    assert "<@U1>, this GO session is due to end in *10m* (open for 20m)" in due
    team.run("/go-handover", "<@U2|bob> back from lunch", user="U1")
    [_, reached] = at(30)
    assert "<@U2>, this GO session has reached its planned end (open for 30m)" in reached
    assert len(at(89)) == 2
    overrun = at(90)[-1]
    assert "<@U2>, this GO session has overrun its planned end by *1h 00m* (reminder 3)" in overrun
    assert "by *2h 00m*" in at(150)[-1]
    sent = [r for r in audit_records(team.services) if r["event"] == "GO_REMINDER_SENT"]
    assert [r["data"]["number"] for r in sent] == [1, 2, 3, 4]
    assert {r["data"]["planned_end_utc"] for r in sent} == {"2026-01-01T09:30:00.000000Z"}


def test_without_a_planned_end_reminders_keep_their_cadence(
    make_harness: Callable[..., SlackHarness],
    store_settings: dict[str, Any],
    clock: FakeClock,
) -> None:
    team = make_harness(remind_after="60m", remind_every="60m", **store_settings)
    team.run("/go-start", "launch")
    clock.advance(timedelta(minutes=50))
    team.tick()
    assert reminders(team) == []
    clock.advance(timedelta(minutes=10))
    team.tick()
    [first] = reminders(team)
    assert "this GO session has been open for *1h 00m* (reminder 1)" in first
    assert "planned end" not in first
