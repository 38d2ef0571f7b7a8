"""GitHub deployments in Slack: a deployment waiting for a GO session, shown once in its
channel with a **Start session** button and edited in place once it is answered (approved or
rejected, why, and no button any more); and that button (it starts a session in the channel
through the same service as `/go-start`; the deployment is then judged again at once; a
deployment answered meanwhile is said instead, and nothing is started)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from bot.slack.blocks import Blocks, context, section, text_message, to_dicts
from bot.slack.capability import Button, Command, Invocation
from bot.slack.mrkdwn import date, safe
from bot.slack.session import started_message
from core.gate_models import Deployment
from core.outbox import DeployPayload
from core.services import Services

DEPLOY_START_ACTION = "go_deploy_start"


class DeployButton(Button):
    """The Start session button of a waiting deployment: which deployment it is about."""

    deployment_id: str = Field(min_length=1, max_length=100)


def deploy_text(data: DeployPayload) -> str:
    deployment = data.deployment
    what = f"Deploy of {deployment.describe()} to {deployment.environment}"
    if deployment.state == "pending":
        return f"{what} is waiting for a GO session"
    return f"{what} {deployment.state}"


def deploy_message(data: DeployPayload) -> list[dict[str, Any]]:
    """`:hourglass: Deploy of org/repo@abc1234 to production is waiting for a GO session`, who
    asked and when, and the Start session button; answered, the same message says how and why,
    with no button."""
    deployment = data.deployment
    asked = f"asked by {safe(deployment.creator, 100)} on GitHub" if deployment.creator else ""
    ref = f" ({safe(deployment.ref, 200)})" if deployment.ref else ""
    about = f"{asked}{ref} at {date(deployment.asked_at_utc)}".strip()
    if deployment.state != "pending":
        mark = ":white_check_mark:" if deployment.state == "approved" else ":no_entry:"
        why = safe(deployment.reason or deployment.state, 1000)
        return to_dicts(
            [
                section(f"{mark} *{safe(deploy_text(data), 1000)}:* {why}"),
                context(f"{about}; answered at {date(deployment.decided_at_utc)}"),
            ]
        )
    return to_dicts(
        [
            section(f":hourglass: {safe(deploy_text(data), 1000)}."),
            context(about),
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
    """Start session: a GO session in the button's channel, as `/go-start` starts one; a
    deployment answered already is said instead (its message may not show it yet)."""
    waiting = services.deployments.get(button.deployment_id) if services.deployments else None
    if waiting is not None and waiting.state != "pending":
        return text_message(
            f"{safe(deploy_text(DeployPayload(deployment=waiting)), 1000)} at "
            f"{date(waiting.decided_at_utc)}: {safe(waiting.reason or waiting.state, 1000)} "
            "No session was started."
        )
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
