"""What every capability's views share: Block Kit building blocks (a section, a context line,
a header, a modal and its notes field), a plain reply, a snapshot's band and health, a
submitted form's values, the planned durations a form offers, and the line that says a change
could not be shown in the channel. Every outside string goes through `bot.slack.mrkdwn`; every
message is built with `slack_sdk.models.blocks`, whose `to_dict()` validates Block Kit's limits.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.slack.mrkdwn import HEADER_LIMIT, fit, safe
from bot.slack.problems import problem_hint
from core.durations import parse_duration
from core.errors import InvalidInput
from core.models import Delivery, Snapshot

Blocks = list[dict[str, Any]]

MAX_MESSAGE_BLOCKS = 50
MAX_METRICS = 10
PLANNED = ("30m", "1h", "2h", "4h")
STATUS_ICON = {
    "green": ":large_green_circle:",
    "yellow": ":large_yellow_circle:",
    "red": ":red_circle:",
    "unknown": ":white_circle:",
}


def block_texts(node: Any) -> list[str]:
    """Every text of a message's blocks (or any part of them), in order: what a person reads."""
    if isinstance(node, dict):
        own = [node["text"]] if isinstance(node.get("text"), str) else []
        return own + [text for value in node.values() for text in block_texts(value)]
    if isinstance(node, list):
        return [text for value in node for text in block_texts(value)]
    return []


def to_dicts(blocks: list[Block], limit: int = MAX_MESSAGE_BLOCKS) -> list[dict[str, Any]]:
    if len(blocks) > limit:
        raise ValueError(f"{len(blocks)} blocks; Block Kit allows {limit}")
    return [block.to_dict() for block in blocks]


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(verbatim=True, text=fit(text, 3000)))


def context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(verbatim=True, text=fit(text, 3000))])


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=fit(text, HEADER_LIMIT))


def text_message(text: str) -> list[dict[str, Any]]:
    """A plain reply; `text` must already be safe mrkdwn."""
    return to_dicts([section(text)])


def snapshot_blocks(snapshot: Snapshot) -> list[Block]:
    cone, health = snapshot.cone, snapshot.status
    blocks: list[Block] = [
        SectionBlock(
            fields=[
                MarkdownTextObject(
                    verbatim=True, text=f"*Band*\n`{safe(cone.band, 20)}` {safe(cone.reason, 1900)}"
                ),
                MarkdownTextObject(
                    verbatim=True,
                    text=f"*Health*\n{STATUS_ICON[health.status]} {safe(health.status, 20)}",
                ),
            ]
        )
    ]
    if health.reasons:
        reasons = "\n".join(f"• {safe(reason, 500)}" for reason in health.reasons[:20])
        blocks.append(section(f"*Reasons*\n{reasons}"))
    if cone.metrics:
        shown = list(cone.metrics.items())[:MAX_METRICS]
        lines = [
            f"{safe(str(key), 100)}: `{safe(json.dumps(value, ensure_ascii=False), 300)}`"
            for key, value in shown
        ]
        if len(cone.metrics) > MAX_METRICS:
            lines.append(f"… and {len(cone.metrics) - MAX_METRICS} more")
        blocks.append(context("*Metrics*  " + "   ".join(lines)))
    return blocks


def form_values(view: dict[str, Any]) -> dict[str, str]:
    """A submitted modal's values by block id: text as typed, a choice by its value, a
    conversation by its ID, a date and time as its epoch seconds."""
    values: dict[str, str] = {}
    state = (view.get("state") or {}).get("values") or {}
    for block_id, actions in state.items():
        for action in (actions or {}).values():
            if "selected_option" in action:
                value = (action.get("selected_option") or {}).get("value")
            elif "selected_conversation" in action:
                value = action.get("selected_conversation")
            elif "selected_date_time" in action:
                value = action.get("selected_date_time")
            else:
                value = action.get("value")
            values[str(block_id)] = str(value or "")
    return values


def modal(
    callback_id: str, title: str, submit: str, metadata: str, blocks: list[Block]
) -> dict[str, Any]:
    return View(
        type="modal",
        callback_id=callback_id,
        title=title,
        submit=submit,
        close="Cancel",
        private_metadata=metadata,
        blocks=blocks,
    ).to_dict()


def notes_input(label: str) -> InputBlock:
    return InputBlock(
        block_id="notes",
        label=label,
        optional=True,
        element=PlainTextInputElement(action_id="notes", multiline=True),
    )


def planned_duration(text: str) -> timedelta:
    if text not in PLANNED:
        raise InvalidInput(f"The planned duration must be one of {', '.join(PLANNED)}.")
    return parse_duration(text)


def unseen(delivery: Delivery, what: str = "the playbook message") -> str:
    """What to add when the channel could not be shown the change."""
    if delivery.problem is None:
        return ""
    return f"\n:warning: The channel could not be shown {what}: {problem_hint(delivery.problem)}"
