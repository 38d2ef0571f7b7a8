"""GitHub deployments in Slack: a deployment waiting for a GO session, shown once in its
channel with a **Start session** button, and that button (it starts a session in the channel
through the same service as `/go-start`; the deployment is then judged again at once)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from bot.slack.blocks import Blocks, context, section, to_dicts
from bot.slack.capability import Button, Command, Invocation
from bot.slack.mrkdwn import date, safe
from bot.slack.session import started_message
from core.models import Deployment
from core.outbox import DeployPayload
from core.services import Services

DEPLOY_START_ACTION = "go_deploy_start"


class DeployButton(Button):
    """The Start session button of a waiting deployment: which deployment it is about."""

    deployment_id: str = Field(min_length=1, max_length=100)


def deploy_text(data: DeployPayload) -> str:
    deployment = data.deployment
    return (
        f"Deploy of {deployment.describe()} to {deployment.environment} is waiting for a GO session"
    )


def deploy_message(data: DeployPayload) -> list[dict[str, Any]]:
    """`:hourglass: Deploy of org/repo@abc1234 to production is waiting for a GO session`, who
    asked and when, and the Start session button."""
    deployment = data.deployment
    asked = f"asked by {safe(deployment.creator, 100)} on GitHub" if deployment.creator else ""
    ref = f" ({safe(deployment.ref, 200)})" if deployment.ref else ""
    return to_dicts(
        [
            section(f":hourglass: {safe(deploy_text(data), 1000)}."),
            context(f"{asked}{ref} at {date(deployment.asked_at_utc)}".strip()),
            ActionsBlock(
                block_id="go_deploy_actions",
                elements=[
                    ButtonElement(
                        text="Start session",
                        action_id=DEPLOY_START_ACTION,
                        value=DeployButton(deployment_id=deployment.id).value(),
                        style="primary",
                    )
                ],
            ),
        ]
    )


def _notes(deployment: Deployment | None) -> str | None:
    if deployment is None:
        return None
    return f"Started for the deploy of {deployment.describe()} to {deployment.environment}."


def _deploy_start(services: Services, call: Invocation, button: DeployButton) -> Blocks:
    """Start session: a GO session in the button's channel, as `/go-start` starts one."""
    waiting = services.deployments.get(button.deployment_id) if services.deployments else None
    change = services.sessions.start(call.user, call.channel, _notes(waiting), call.reply_to)
    return started_message(change)


COMMANDS: tuple[Command, ...] = (
    Command(
        "deploy-start",
        "Start session",
        "start a GO session for the deploy that waits for one",
        _deploy_start,
        "operator",
        "start a GO session",
        "Not started",
        limited=True,
        input=DeployButton,
        actions=(DEPLOY_START_ACTION,),
    ),
)
