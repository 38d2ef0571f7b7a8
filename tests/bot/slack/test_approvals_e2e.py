"""Approvals as the team sees them: completing a step of GOBOT_APPROVAL_STEPS posts one request
in the session's thread with Approve and Reject buttons; the asker's answer is refused; another
operator's answer is taken once, edits the request in place and shows on the playbook message;
with GOBOT_APPROVE_START the start waits the same way. Signed requests into the real HTTP app,
the loopback Slack out, on both stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.dev.fake_slack import FakeSlack, Message
from bot.slack.approvals import APPROVE_ACTION, REJECT_ACTION
from tests.bot.conftest import SlackHarness, block_text
from tests.bot.slack.test_playbook_e2e import answered, playbook_messages, press, shown
from tests.conftest import audit_records


@pytest.fixture
def team(make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any]) -> SlackHarness:
    return make_harness(approval_steps="migrate,rollout", **store_settings)


def requests(fake: FakeSlack) -> list[Message]:
    """The approval requests posted, oldest first."""
    found = [m for m in fake.messages.values() if "GO approval" in str(m.params.get("text"))]
    return sorted(found, key=lambda m: m.ts)


def buttons(message: Message, *, posted: bool = False) -> dict[str, dict[str, Any]]:
    """The request's buttons as it shows now (or as it was `posted`), by action id (none once
    answered)."""
    params = message.params if posted else shown(message)
    actions = [b for b in params["blocks"] if b["type"] == "actions"]
    return {e["action_id"]: e for block in actions for e in block["elements"]}


def click(team: SlackHarness, message: Message, action: str, user: str) -> str:
    """Click the request's button as it was posted; the response_url token."""
    button = buttons(message, posted=True)[action]
    response, token = team.click(action, button["value"], user=user, message_ts=message.ts)
    assert response.status_code == 200
    return token


def approval_events(team: SlackHarness) -> list[tuple[str, str]]:
    return [
        (r["event"], r["actor"])
        for r in audit_records(team.services)
        if "APPROV" in r["event"] or r["event"] in ("GO_STEP_COMPLETE", "GO_SESSION_END")
    ]


def test_a_step_that_needs_approval_is_asked_once_and_approved_by_another_operator(
    team: SlackHarness,
) -> None:
    fake = team.fake
    team.run("/go-start", "launch")
    said = team.run("/go-complete", "migrate v42 schema", user="U1")
    assert "needs a second operator" in said and "approval request" in said
    [request] = requests(fake)
    [playbook] = playbook_messages(fake)
    post = next(m for m in fake.messages.values() if m.thread_ts is None)
    assert request.thread_ts == post.ts  # in the session's thread
    text = block_text(request.params)
    assert "Approval needed:* step 4 (Run data migrations), asked by <@U1>" in text
    assert "_v42 schema_" in text
    assert set(buttons(request)) == {APPROVE_ACTION, REJECT_ACTION}
    assert fake.wait_for(lambda f: "waits for a second operator" in block_text(shown(playbook)))
    assert "4/9" not in block_text(shown(playbook)) and "0/9 steps" in block_text(shown(playbook))

    again = team.run("/go-complete", "4", user="U3")  # asking again adds nothing
    assert "waits for a second operator's approval (asked by <@U1>)" in again
    assert len(requests(fake)) == 1

    own = answered(fake, click(team, request, APPROVE_ACTION, "U1"))
    assert "another operator must approve or reject it" in own
    assert not request.updates

    click(team, request, APPROVE_ACTION, "U2")
    assert fake.wait_for(lambda f: bool(request.updates))
    assert buttons(request) == {}  # edited in place: no buttons once answered
    assert "Approved:* step 4 (Run data migrations), approved by <@U2>" in block_text(
        shown(request)
    )
    assert fake.wait_for(lambda f: "1/9 steps" in block_text(shown(playbook)))
    line = block_text(shown(playbook))
    assert "Run data migrations" in line and "<@U1> at" in line and "approved by <@U2>" in line
    assert approval_events(team) == [
        ("GO_STEP_APPROVAL_REQUESTED", "U1"),
        ("GO_STEP_APPROVED", "U2"),
    ]

    second = answered(fake, click(team, request, REJECT_ACTION, "U3"))  # a late second click
    assert "answered already" in second and "approved by <@U2>" in second
    assert len(requests(fake)) == 1 and len(request.updates) == 1
    checklist = team.run("/go-checklist")
    assert "approved by <@U2>" in checklist
    report = team.run("/go-report")
    assert "done by <@U1>" in report and "approved by <@U2>" in report
    assert "<@U2>: approved step 4 (Run data migrations)" in report  # the timeline


def test_a_rejected_step_stays_open_and_the_button_of_the_playbook_asks_again(
    team: SlackHarness,
) -> None:
    fake = team.fake
    team.run("/go-start", "launch")
    [playbook] = playbook_messages(fake)
    press(team, playbook, 7, user="U1")  # rollout's Complete button
    assert fake.wait_for(lambda f: len(requests(f)) == 1)
    [request] = requests(fake)
    click(team, request, REJECT_ACTION, "U2")
    assert fake.wait_for(lambda f: bool(request.updates))
    assert "Rejected:* step 7 (Roll out everywhere)" in block_text(shown(request))
    assert fake.wait_for(lambda f: "rejected by <@U2>" in block_text(shown(playbook)))
    assert "rollout" not in team.services.sessions.get("C1").playbook
    press(team, playbook, 7, user="U3")
    assert fake.wait_for(lambda f: len(requests(f)) == 2)
    assert [e for e, _ in approval_events(team)] == [
        "GO_STEP_APPROVAL_REQUESTED",
        "GO_STEP_APPROVAL_REJECTED",
        "GO_STEP_APPROVAL_REQUESTED",
    ]


def test_a_double_click_of_approve_is_answered_once(team: SlackHarness) -> None:
    fake = team.fake
    team.run("/go-start", "launch")
    team.run("/go-complete", "migrate", user="U1")
    [request] = requests(fake)
    first = click(team, request, APPROVE_ACTION, "U2")
    second = click(team, request, APPROVE_ACTION, "U2")
    team.settle()
    assert fake.wait_for(lambda f: any(c.method == second for c in f.responses))
    assert "answered already" in answered(fake, second)
    assert not any(c.method == first for c in fake.responses)  # the request says it all
    assert [e for e, _ in approval_events(team)].count("GO_STEP_APPROVED") == 1
    assert len(request.updates) == 1


@pytest.fixture
def gated(
    make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any]
) -> SlackHarness:
    return make_harness(approve_start=True, **store_settings)


def test_a_start_that_needs_approval_goes_on_once_another_operator_approves(
    gated: SlackHarness,
) -> None:
    fake = gated.fake
    assert "GO session started" in gated.run("/go-start", "launch", user="U1")
    [request] = requests(fake)
    assert "Approval needed:* the GO session's start, asked by <@U1>" in block_text(request.params)
    [playbook] = playbook_messages(fake)
    assert "*Start:* :hourglass_flowing_sand: waits" in block_text(shown(playbook))
    refused = gated.run("/go-complete", "1", user="U2")
    assert "start waits for a second operator's approval" in refused
    assert "another operator" in answered(fake, click(gated, request, APPROVE_ACTION, "U1"))
    click(gated, request, APPROVE_ACTION, "U2")
    assert fake.wait_for(lambda f: bool(request.updates))
    assert "Approved:* the GO session's start" in block_text(shown(request))
    approved = [r for r in audit_records(gated.services) if r["event"] == "GO_STEP_APPROVED"]
    assert [(r["actor"], r["data"]["step"]) for r in approved] == [("U2", "@start")]
    assert "done" in gated.run("/go-complete", "1", user="U1")


def test_a_rejected_start_ends_the_session_aborted(gated: SlackHarness) -> None:
    fake = gated.fake
    gated.run("/go-start", "launch", user="U1")
    [request] = requests(fake)
    click(gated, request, REJECT_ACTION, "U2")
    assert fake.wait_for(lambda f: bool(request.updates))
    assert "Rejected:* the GO session's start" in block_text(shown(request))
    session = gated.services.sessions.get("C1")
    assert not session.active and session.outcome == "aborted"
    assert session.end_notes == "Start rejected by U2."
    assert fake.wait_for(
        lambda f: any("Session ended" in block_text(m.params) for m in f.messages.values())
    )
    assert [e for e in approval_events(gated)] == [
        ("GO_STEP_APPROVAL_REQUESTED", "U1"),
        ("GO_STEP_APPROVAL_REJECTED", "U2"),
        ("GO_SESSION_END", "U2"),
    ]


def test_someone_who_is_not_an_operator_cannot_answer(
    make_harness: Callable[..., SlackHarness], store_settings: dict[str, Any]
) -> None:
    team = make_harness(approval_steps="migrate", operators="U1,U2", **store_settings)
    team.run("/go-start", "launch")
    team.run("/go-complete", "migrate", user="U1")
    [request] = requests(team.fake)
    refused = answered(team.fake, click(team, request, APPROVE_ACTION, "U9"))
    assert "approve playbook steps" in refused
    assert team.services.sessions.get("C1").approvals["migrate"].state == "pending"
    assert not request.updates
