"""The Slack app manifest, derived from the capabilities' declarations: every slash command with
its description and usage hint, the message shortcut, the workflow steps (functions run remotely
by gobot, their typed parameters in the flat map of `_metadata.major_version` 1) and the events
gobot listens to; the bot scopes gobot really uses, interactivity and the Home tab; request URLs
for HTTP mode, or Socket Mode. It validates against Slack's official manifest schema."""

from __future__ import annotations

from typing import Any

from bot.settings import Settings
from bot.slack.capability import Param
from bot.slack.catalog import BY_NAME, COMMANDS, EVENTS, SLASH_COMMANDS, SUBCOMMANDS
from bot.slack.interactions import UMBRELLA


def _describe(command: str) -> tuple[str, str]:
    """(description, usage hint) of a slash command, from the one table of commands."""
    if command == UMBRELLA:
        names = [name for name, found in SUBCOMMANDS.items() if found.role != "admin"]
        return f"GO sessions: {', '.join(names)}", f"{'|'.join(names)} [...]"
    found = SUBCOMMANDS[command.removeprefix("/go-")]
    hint = found.usage.partition(" ")[2]
    return found.summary[:1].upper() + found.summary[1:], hint


def _functions() -> dict[str, Any]:
    """The manifest's `functions`: each workflow step's title, description and typed
    parameters."""

    def parameters(params: tuple[Param, ...]) -> dict[str, Any]:
        """The flat map of major version 1 (as Slack's Bolt custom-step template writes it):
        parameter name -> its type, title, description, whether it is required, and name."""
        return {
            p.name: {
                "type": p.type,
                "title": p.title,
                "description": p.description,
                "is_required": p.required,
                "name": p.name,
            }
            for p in params
        }

    return {
        step.callback_id: {
            "title": step.title,
            "description": step.description,
            "input_parameters": parameters(step.inputs),
            "output_parameters": parameters(step.outputs),
        }
        for step in (c.step for c in COMMANDS if c.step)
    }


def bot_scopes(settings: Settings) -> list[str]:
    scopes = [
        "commands",
        "chat:write",
        "channels:history",
        "groups:history",
        "channels:read",
        "groups:read",
        "reactions:read",  # the pin reaction adds a message to the timeline
    ]
    if any(entry.startswith("S") for entry in [*settings.operators, *settings.admins]):
        scopes.append("usergroups:read")  # only to resolve user groups listed in settings
    return scopes


def build_manifest(settings: Settings, url: str | None, socket: bool) -> dict[str, Any]:
    if socket and url:
        raise ValueError("--socket takes no --url: Socket Mode needs no public address")
    if not socket and not url:
        raise ValueError("--url is required unless --socket is given")
    if url is not None and not url.startswith("https://"):
        raise ValueError(
            f"--url must start with https:// (Slack calls only HTTPS request URLs), not {url!r}"
        )
    events_url = None if socket else f"{str(url).rstrip('/')}/slack/events"
    commands = []
    for command in SLASH_COMMANDS:
        description, hint = _describe(command)
        row = BY_NAME.get(command.removeprefix("/go-"))
        entry: dict[str, Any] = {
            "command": command,
            "description": description,
            "should_escape": row is not None and row.escapes,
        }
        if hint:
            entry["usage_hint"] = hint
        if events_url:
            entry["url"] = events_url
        commands.append(entry)
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {"bot_events": EVENTS}
    if events_url:
        interactivity["request_url"] = events_url
        events["request_url"] = events_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": "gobot",
            "description": "GO sessions: snapshots, a launch playbook, reminders, an audit trail",
            "background_color": "#1d3557",
        },
        "features": {
            "app_home": {"home_tab_enabled": True, "messages_tab_enabled": False},
            "bot_user": {"display_name": "gobot", "always_online": True},
            "slash_commands": commands,
            "shortcuts": [
                {
                    "name": c.usage,
                    "type": "message",
                    "callback_id": c.shortcut.callback_id,
                    "description": c.shortcut.description,
                }
                for c in COMMANDS
                if c.shortcut
            ],
        },
        "functions": _functions(),
        "oauth_config": {"scopes": {"bot": bot_scopes(settings)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "function_runtime": "remote",  # the workflow steps run in gobot
            "org_deploy_enabled": True,  # which custom steps require
            "socket_mode_enabled": socket,
            "token_rotation_enabled": False,
        },
    }
