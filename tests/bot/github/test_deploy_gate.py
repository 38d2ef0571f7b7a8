"""The deploy gate through its real boundaries: signed deployment protection rule webhooks into
the real HTTP app, gobot's answer out to the loopback GitHub with the real HTTP client, Slack
commands signed as Slack signs them; on both stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.dev.fake_github import FakeGithub, Fault
from bot.slack.deploys import DEPLOY_START_ACTION, DeployButton
from core.approvals import OwnApproval
from tests.bot.conftest import SlackHarness, block_text, posts
from tests.bot.github.conftest import Keys, github_settings, protection_rule, send_webhook
from tests.conftest import FakeClock, audit_records, wait_until, write_json


def answered(github: FakeGithub, count: int = 1) -> list[Any]:
    """Wait until GitHub has taken `count` answers; they are what it keeps."""
    wait_until(lambda: len(github.accepted()) >= count, what=f"{count} answer(s) to GitHub")
    return github.accepted()


def test_a_deploy_during_an_active_session_is_approved_once(
    gated: SlackHarness, github: FakeGithub
) -> None:
    assert ":white_check_mark: GO session started" in gated.run("/go-start", "release 42")
    payload = protection_rule(github)

    response, headers = send_webhook(gated.http, payload)
    assert response.status_code == 202, response.text
    [answer] = answered(github)
    assert (answer.owner, answer.repo, answer.run_id) == ("acme", "shop", 7)
    assert answer.environment_name == "production" and answer.state == "approved"
    assert "is active" in answer.body["comment"]

    again, _ = send_webhook(gated.http, payload, headers)  # the same delivery, redelivered
    assert again.status_code == 200 and "already" in again.json()["detail"]
    other, _ = send_webhook(gated.http, payload)  # the same deployment, a new delivery
    assert other.status_code == 200 and "already" in other.json()["detail"]
    gated.tick()
    assert len(github.answers) == 1 and gated.services.outbox.depth() == 0
    decided = [r for r in audit_records(gated.services) if r["event"] == "GO_GATE_DECIDED"]
    assert len(decided) == 1 and decided[0]["data"]["source"] == "github"
    assert decided[0]["data"]["ref"] == "acme/shop@abc1234"


def test_no_session_waits_shown_once_then_a_start_approves_it_exactly_once(
    gated: SlackHarness, github: FakeGithub
) -> None:
    response, _ = send_webhook(gated.http, protection_rule(github))
    assert response.status_code == 202
    waiting = "Deploy of acme/shop@abc1234 to production is waiting for a GO session"
    wait_until(lambda: any(waiting in block_text(c.params) for c in posts(gated.fake)))
    [shown] = [c for c in posts(gated.fake) if waiting in block_text(c.params)]
    assert shown.params["channel"] == "C1" and "octocat" in block_text(shown.params)
    buttons = [e for b in shown.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == [DEPLOY_START_ACTION]
    gated.tick()
    gated.tick()
    assert github.answers == []  # it waits
    assert len([c for c in posts(gated.fake) if waiting in block_text(c.params)]) == 1

    assert "GO session started" in gated.run("/go-start", "release")
    gated.tick()
    [answer] = answered(github)
    assert answer.state == "approved"
    gated.tick()
    assert len(github.answers) == 1
    deployment = gated.services.deployments.get(  # type: ignore[union-attr]
        DeployButton.model_validate(buttons[0]["value"]).deployment_id
    )
    assert deployment is not None and deployment.state == "approved"
    assert deployment.session_id == gated.services.sessions.get("C1").id


def test_the_start_session_button_starts_the_session_the_deploy_waits_for(
    gated: SlackHarness, github: FakeGithub
) -> None:
    send_webhook(gated.http, protection_rule(github))
    waiting = "waiting for a GO session"
    wait_until(lambda: any(waiting in block_text(c.params) for c in posts(gated.fake)))
    [shown] = [c for c in posts(gated.fake) if waiting in block_text(c.params)]
    [button] = [e for b in shown.params["blocks"] if b["type"] == "actions" for e in b["elements"]]

    response, _token = gated.click(DEPLOY_START_ACTION, button["value"])
    assert response.status_code == 200
    wait_until(lambda: gated.services.sessions.get("C1").active, what="a session")
    assert "deploy of acme/shop@abc1234" in (gated.services.sessions.get("C1").notes or "")
    gated.tick()
    assert [a.state for a in answered(github)] == ["approved"]


def test_health_red_holds_the_deploy_until_it_clears(
    gated: SlackHarness, github: FakeGithub, green: Path
) -> None:
    """Health red (or a failed read of it) may clear: the deploy waits in the session and is
    judged again, rather than rejected for a moment's reading."""
    gated.run("/go-start", "release")
    write_json(green / "health_status.json", {"status": "red", "reasons": ["db down"]})
    send_webhook(gated.http, protection_rule(github))
    deployments = gated.services.deployments
    assert deployments is not None
    wait_until(lambda: any("db down" in (d.reason or "") for d in deployments.waiting()))
    gated.tick()
    assert github.answers == []
    write_json(green / "health_status.json", {"status": "green", "reasons": []})
    gated.tick()
    [answer] = answered(github)
    assert answer.state == "approved"


def test_a_session_that_ends_rejects_the_deploy_waiting_in_it(
    gated: SlackHarness, github: FakeGithub
) -> None:
    gated.run("/go-start", "release")
    send_webhook(gated.http, protection_rule(github, environment="staging"))  # gated on step 3
    deployments = gated.services.deployments
    assert deployments is not None

    def waiting_in_session() -> bool:
        return any(d.session_id is not None for d in deployments.waiting())

    wait_until(waiting_in_session, what="the deploy waiting in the session")
    assert github.answers == []
    gated.run("/go-end", "done")
    gated.tick()
    [answer] = answered(github)
    assert answer.state == "rejected"
    assert "ended before this deploy was allowed" in answer.body["comment"]


@pytest.mark.parametrize("taken", [True, False])
def test_github_failing_after_taking_the_answer_is_not_answered_twice(
    gated: SlackHarness, github: FakeGithub, clock: FakeClock, taken: bool
) -> None:
    gated.run("/go-start", "release")
    github.fail(Fault(status=502, taken=taken))
    send_webhook(gated.http, protection_rule(github))
    wait_until(lambda: gated.services.outbox.depth() == 1 and _tried(gated), what="an attempt")
    clock.advance(timedelta(minutes=1))
    gated.tick()
    [answer] = answered(github)
    assert answer.state == "approved"
    clock.advance(timedelta(minutes=10))
    gated.tick()
    assert len(github.accepted()) == 1 and gated.services.outbox.depth() == 0


def test_github_timing_out_after_taking_the_answer_is_not_answered_twice(
    gated: SlackHarness, github: FakeGithub, clock: FakeClock
) -> None:
    gated.run("/go-start", "release")
    github.fail(Fault(status=204, taken=True, delay=15.0))  # past the 10 s client timeout
    send_webhook(gated.http, protection_rule(github))
    answered(github)
    wait_until(lambda: gated.services.outbox.depth() == 1 and _tried(gated), what="the timeout")
    clock.advance(timedelta(minutes=1))
    gated.tick()
    assert len(github.accepted()) == 1
    wait_until(lambda: gated.services.outbox.depth() == 0, what="the answer settled")


def _tried(gated: SlackHarness) -> bool:
    return all(i.lease_until_utc is None and i.attempts for i in gated.services.outbox.items())


def test_a_deploy_waiting_on_an_approval_step_asks_a_second_operator_once(
    make_harness: Callable[..., SlackHarness],
    github: FakeGithub,
    keys: Keys,
    store_settings: dict[str, Any],
) -> None:
    """`production=C1:migrate` with migrate needing a second operator: the waiting deploy asks
    for that approval (once, however often it is judged), as GitHub's login; the session's owner
    cannot answer a pipeline's ask, another operator can, and GitHub then hears approved."""
    team = make_harness(
        **github_settings(github, keys[0], github_environments="production=C1:migrate"),
        approval_steps="migrate",
        **store_settings,
    )
    team.run("/go-start", "release", user="U1")
    for step in ("1", "2", "3"):
        team.run("/go-complete", step, user="U1")
    send_webhook(team.http, protection_rule(github))
    team.settle()

    def asked() -> bool:
        return "migrate" in team.services.sessions.get().approvals

    wait_until(asked, what="the approval the deploy waits on")
    team.tick()
    team.tick()
    approval = team.services.sessions.get().approvals["migrate"]
    assert (approval.asked_by, approval.state) == ("github:octocat", "pending")
    requested = [
        r for r in audit_records(team.services) if r["event"] == "GO_STEP_APPROVAL_REQUESTED"
    ]
    assert len(requested) == 1 and github.answers == []
    session_id = team.services.sessions.get().id or ""
    with pytest.raises(OwnApproval):
        team.services.approvals.answer(session_id, "migrate", by="U1", approve=True)
    team.services.approvals.answer(session_id, "migrate", by="U2", approve=True)
    team.tick()
    [answer] = answered(github)
    assert answer.state == "approved"
