"""Every capability of gobot in Slack, gathered from the domain modules that declare them
(session, reminders, playbook, workspace, history, windows, workflow steps), and what is
derived from them: the `/go` subcommands, the slash commands, the buttons and `/go help`."""

from __future__ import annotations

from bot.slack import history, playbook, reminders, session, windows, workspace
from bot.slack.blocks import Blocks, text_message
from bot.slack.interactions import UMBRELLA, Command, Invocation
from core.services import Services


def _help(services: Services, call: Invocation) -> Blocks:
    return text_message(help_text())


HELP = Command("help", "help", "show this help", _help, reach="umbrella")
COMMANDS: tuple[Command, ...] = (
    *session.COMMANDS,
    *playbook.COMMANDS,
    *workspace.COMMANDS,
    *history.COMMANDS,
    *windows.COMMANDS,
    HELP,
    *reminders.COMMANDS,
)
BY_NAME = {command.name: command for command in COMMANDS}
SUBCOMMANDS = {c.name: c for c in COMMANDS if c.reach in ("slash", "umbrella")}
SLASH_COMMANDS = (UMBRELLA, *(f"/go-{c.name}" for c in COMMANDS if c.reach == "slash"))
BUTTONS: dict[str, tuple[Command, str]] = {
    session.END_ACTION: (BY_NAME["end-button"], ""),
    workspace.TAKE_OVER_ACTION: (BY_NAME["take-over"], ""),
    playbook.COMPLETE_ACTION: (BY_NAME["complete-button"], ""),
    playbook.REOPEN_ACTION: (BY_NAME["reopen-button"], ""),
    windows.WINDOW_START_ACTION: (BY_NAME["window-start"], ""),
    windows.WINDOW_MOVE_ACTION: (BY_NAME["window-move"], ""),
    windows.WINDOW_CANCEL_ACTION: (BY_NAME["window-cancel"], ""),
    **{
        action: (BY_NAME["snooze"], duration) for action, duration in session.SNOOZE_ACTIONS.items()
    },
}


def help_text() -> str:
    """The commands, then what the session's messages offer (buttons, the shortcut, forms)."""
    lines = [f"`/go {c.usage}` — {c.summary}" for c in SUBCOMMANDS.values()]
    extras = [f"*{c.usage}* — {c.summary}" for c in COMMANDS if c.reach in ("button", "message")]
    return (
        "*gobot commands* (each also as `/go-<name>`):\n"
        + "\n".join(lines)
        + "\n`/go-start` and `/go-end` with no text open a form (notes, a planned duration "
        "and a link; end notes and the outcome).\n*Buttons, and the message shortcut:*\n"
        + "\n".join(extras)
    )
