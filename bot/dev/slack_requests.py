"""What Slack sends gobot, built as Slack builds it, for `gobot local`, the tests and the
benchmarks: a slash command, a button click, a message shortcut, a form submission, an Events
API callback and a workflow step's `function_executed` (each body as Slack posts it; signing is
the sender's)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode


def slash_command_body(
    command: str,
    text: str,
    user: str,
    channel: str,
    response_url: str,
    *,
    trigger_id: str | None = "1.2.3",
) -> str:
    """A slash command's form body, field for field as Slack sends it (without a trigger_id:
    as a client that cannot show modals, such as `gobot local`)."""
    fields = {
        "token": "deprecated",
        "team_id": "T1",
        "team_domain": "local",
        "channel_id": channel,
        "channel_name": "local",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A1",
        "is_enterprise_install": "false",
        "response_url": response_url,
        **({"trigger_id": trigger_id} if trigger_id else {}),
    }
    return urlencode(fields)


def button_click_body(
    action_id: str,
    value: str,
    user: str,
    channel: str,
    response_url: str,
    *,
    message_ts: str = "1.0",
    on_home: bool = False,
) -> str:
    """A `block_actions` interaction's form body (`payload=` JSON) as Slack sends it: from a
    message in `channel`, or (`on_home`) from the user's App Home, which has no channel and
    no response_url."""
    where: dict[str, Any] = (
        {
            "container": {"type": "view", "view_id": "VHOME"},
            "view": {"id": "VHOME", "type": "home"},
        }
        if on_home
        else {
            "channel": {"id": channel},
            "response_url": response_url,
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        }
    )
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": "T1"},
        "api_app_id": "A1",
        "trigger_id": "1.2.3",
        **where,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "go_session_actions",
                "value": value,
                "action_ts": "1.1",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def message_shortcut_body(
    callback_id: str, user: str, channel: str, message: dict[str, Any], response_url: str
) -> str:
    """A `message_action` interaction's form body (a message shortcut) as Slack sends it."""
    payload = {
        "type": "message_action",
        "callback_id": callback_id,
        "trigger_id": "1.2.3",
        "action_ts": "1.1",
        "team": {"id": "T1"},
        "user": {"id": user},
        "channel": {"id": channel},
        "message_ts": message.get("ts"),
        "message": message,
        "response_url": response_url,
    }
    return urlencode({"payload": json.dumps(payload)})


def view_submission_body(
    callback_id: str, user: str, private_metadata: str, values: dict[str, str]
) -> str:
    """A modal's `view_submission` form body as Slack sends it: `values` by block id (the
    action id is the same); a static select's value is sent as its selected option, `when` as
    a date-time picker's epoch seconds, `channel` as a selected conversation."""

    def element(block: str, value: str) -> dict[str, Any]:
        if block in ("planned", "outcome"):
            return {"type": "static_select", "selected_option": {"value": value}}
        if block == "when":
            return {"type": "datetimepicker", "selected_date_time": int(value)}
        if block == "channel":
            return {"type": "conversations_select", "selected_conversation": value}
        return {"type": "plain_text_input", "value": value}

    state = {block: {block: element(block, value)} for block, value in values.items()}
    payload = {
        "type": "view_submission",
        "team": {"id": "T1"},
        "user": {"id": user},
        "api_app_id": "A1",
        "trigger_id": "1.2.3",
        "view": {
            "id": "VMODAL",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": state},
        },
    }
    return urlencode({"payload": json.dumps(payload)})


def event_callback_body(event: dict[str, Any], event_id: str) -> str:
    """An Events API delivery (JSON) of `event`, as Slack sends it."""
    return json.dumps(
        {
            "token": "x",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
        }
    )


def function_executed_body(
    callback_id: str, inputs: dict[str, Any], execution_id: str, event_id: str = "EvF1"
) -> str:
    """A workflow step's `function_executed` event, with the short-lived token the step's
    calls are made with."""
    return event_callback_body(
        {
            "type": "function_executed",
            "function": {"id": "Fn1", "callback_id": callback_id, "app_id": "A1"},
            "inputs": inputs,
            "function_execution_id": execution_id,
            "workflow_execution_id": "Wx1",
            "event_ts": "1.0",
            "bot_access_token": "xwfp-test-not-a-real-token",
        },
        event_id,
    )
