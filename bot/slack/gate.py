"""The gate in Slack: a decision's one line in a channel with no active session (with a session
the decision joins its timeline, drawn as its other entries are)."""

from __future__ import annotations

from typing import Any

from bot.slack.blocks import section, to_dicts
from bot.slack.mrkdwn import safe
from core.outbox import GatePayload

STATE_ICONS = {"allowed": ":large_green_circle:", "denied": ":no_entry:", "pending": ":hourglass:"}


def gate_text(data: GatePayload) -> str:
    decision = data.decision
    return f"GO gate: {data.request.describe()}: {decision.state}. {decision.reason}"


def gate_message(data: GatePayload) -> list[dict[str, Any]]:
    """`:no_entry: GO gate: deploy of main to production asked by ci: denied. <why>`"""
    icon = STATE_ICONS[data.decision.state]
    return to_dicts([section(f"{icon} {safe(gate_text(data), 2500)}")])
