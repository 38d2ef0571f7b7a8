"""A waiting deployment's message in Slack once it is answered: edited in place (approved or
rejected, why, no Start session button), and its button answering what happened instead of
starting a session; through signed webhooks, the loopback GitHub and the fake Slack, on both
stores."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.dev.fake_github import FakeGithub
from bot.dev.fake_slack import Message
from bot.slack.deploys import DEPLOY_START_ACTION
from tests.bot.conftest import SlackHarness, block_text
from tests.bot.github.conftest import protection_rule, send_webhook
from tests.conftest import FakeClock, wait_until


def waiting_message(gated: SlackHarness, environment: str = "production") -> Message:
    """The deployment's message as it landed in the channel, waiting."""
    waiting = f"Deploy of acme/shop@abc1234 to {environment} is waiting for a GO session"

    def shown() -> list[Message]:
        return [m for m in gated.fake.messages.values() if waiting in block_text(m.params)]

    wait_until(shown, what="the waiting deploy's message")
    [message] = shown()
    return message


def delivered(gated: SlackHarness, clock: FakeClock) -> None:
    """Tick until nothing is owed: Slack is paced per channel, on the harness's clock."""
    for _ in range(20):
        gated.tick()
        if gated.services.outbox.depth() == 0:
            return
        clock.advance(timedelta(seconds=2))
    raise AssertionError(f"{gated.services.outbox.depth()} messages still owed")


def edits_of(gated: SlackHarness, message: Message) -> list[dict[str, Any]]:
    return [
        c.params
        for c in gated.fake.calls_to("chat.update")
        if (c.params["channel"], c.params["ts"]) == (message.channel, message.ts)
    ]


def buttons(params: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in params["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_an_approved_deploy_edits_its_waiting_message_in_place(
    gated: SlackHarness, github: FakeGithub, clock: FakeClock
) -> None:
    send_webhook(gated.http, protection_rule(github))
    message = waiting_message(gated)
    [button] = buttons(message.params)
    assert button["action_id"] == DEPLOY_START_ACTION

    gated.run("/go-start", "release")
    delivered(gated, clock)
    [edit] = edits_of(gated, message)
    shown = block_text(edit)
    assert "Deploy of acme/shop@abc1234 to production approved" in shown
    assert "is active" in shown and buttons(edit) == []
    assert edit["text"] == "Deploy of acme/shop@abc1234 to production approved"
    delivered(gated, clock)
    assert len(edits_of(gated, message)) == 1  # edited once

    gated.run("/go-end", "done")
    response, token = gated.click(DEPLOY_START_ACTION, button["value"])
    assert response.status_code == 200
    wait_until(lambda: any(c.method == token for c in gated.fake.responses), what="a reply")
    reply = block_text(next(c.params for c in gated.fake.responses if c.method == token))
    assert "Deploy of acme/shop@abc1234 to production approved at" in reply
    assert "No session was started." in reply
    assert not gated.services.sessions.get("C1").active


def test_a_deploy_rejected_when_its_session_ends_says_so_on_its_message(
    gated: SlackHarness, github: FakeGithub, clock: FakeClock
) -> None:
    send_webhook(gated.http, protection_rule(github, environment="staging"))  # gated on step 3
    message = waiting_message(gated, "staging")
    gated.run("/go-start", "release")
    gated.tick()
    deployments = gated.services.deployments
    assert deployments is not None
    wait_until(lambda: deployments.waiting()[0].session_id is not None, what="it waits in it")
    assert edits_of(gated, message) == []  # it still waits: the message stays as it is

    gated.run("/go-end", "done")
    delivered(gated, clock)
    [edit] = edits_of(gated, message)
    assert ":no_entry: *Deploy of acme/shop@abc1234 to staging rejected:*" in block_text(edit)
    assert "ended before this deploy was allowed" in block_text(edit)
    assert buttons(edit) == []
