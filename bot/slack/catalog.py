"""Every capability of gobot in Slack, gathered from the domain modules that declare them
(session, reminders, playbook, approvals, workspace, history, windows, freezes, deploys, home,
delivery, workflow steps), and what is derived from them without a Slack app: the `/go`
subcommands, the slash commands, the Events API events and `/go help`. The Bolt listeners
(`bot.slack.app`), the manifest (`bot.slack.manifest`), `gobot local` and the README's command
table (checked by a test) come from the same declarations."""

from __future__ import annotations

from bot.slack import (
    approvals,
    delivery,
    deploys,
    freezes,
    history,
    home,
    playbook,
    reminders,
    session,
    steps,
    windows,
    workspace,
)
from bot.slack.blocks import Blocks, text_message
from bot.slack.capability import Command, Invocation, Text
from bot.slack.interactions import UMBRELLA
from core.services import Services


def _help(services: Services, call: Invocation, given: Text) -> Blocks:
    return text_message(help_text())


HELP = Command("help", "help", "show this help", _help, slash="umbrella")
COMMANDS: tuple[Command, ...] = (
    *session.COMMANDS,
    *playbook.COMMANDS,
    *approvals.COMMANDS,
    *workspace.COMMANDS,
    *history.COMMANDS,
    *windows.COMMANDS,
    *freezes.COMMANDS,
    *deploys.COMMANDS,
    HELP,
    *reminders.COMMANDS,
    *home.COMMANDS,
    *delivery.COMMANDS,
    *steps.COMMANDS,
)
BY_NAME = {command.name: command for command in COMMANDS}
SUBCOMMANDS = {c.name: c for c in COMMANDS if c.slash is not None}
SLASH_COMMANDS = (UMBRELLA, *(f"/go-{c.name}" for c in COMMANDS if c.slash == "own"))
EVENTS = sorted(
    {event.name for c in COMMANDS for event in c.events}
    | ({"function_executed"} if any(c.step for c in COMMANDS) else set())
)


def help_text() -> str:
    """The commands, then what the session's messages offer (buttons, the shortcut), then
    the workflow steps."""
    lines = [f"`/go {c.usage}` — {c.summary}" for c in SUBCOMMANDS.values()]
    extras = [f"*{c.usage}* — {c.summary}" for c in COMMANDS if c.actions or c.shortcut]
    flows = [f"*{c.step.title}* — {c.step.description}" for c in COMMANDS if c.step]
    return (
        "*gobot commands* (each also as `/go-<name>`):\n"
        + "\n".join(lines)
        + "\n`/go-start` and `/go-end` with no text open a form (notes, a planned duration "
        "and a link; end notes and the outcome).\n*Buttons, and the message shortcut:*\n"
        + "\n".join(extras)
        + "\n*Workflow steps* (in Workflow Builder):\n"
        + "\n".join(flows)
    )
