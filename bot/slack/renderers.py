"""The one registry of what the outbox owes Slack: each message kind's typed payload and the
domain module's view that draws it (text, blocks, and any more arguments of the post)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.slack.approvals import approval_message, approval_text
from bot.slack.deploys import deploy_message, deploy_text
from bot.slack.digest import digest_message
from bot.slack.gate import gate_message, gate_text
from bot.slack.mrkdwn import safe
from bot.slack.playbook import playbook_message, playbook_text
from bot.slack.reminders import drift_message, reminder_message, reminder_text
from bot.slack.session_views import snapshot_message, snapshot_text, summary_message
from bot.slack.window_views import window_message, window_text
from bot.slack.workspace import timeline_message
from core.models import GoSession, PlaybookStep
from core.outbox import (
    ApprovalPayload,
    DeployPayload,
    DigestPayload,
    DriftPayload,
    Failed,
    GatePayload,
    Kind,
    OutboxItem,
    Payload,
    ReminderPayload,
    SessionPayload,
    TimelinePayload,
    WindowPayload,
)

P = TypeVar("P", bound=Payload)


Rendered = tuple[str, list[dict[str, Any]], dict[str, Any]]  # text, blocks, more arguments


@dataclass(frozen=True)
class Renderer(Generic[P]):
    """How one kind of owed message looks: its payload's type and what renders it, given the
    playbook (for progress) and whether it goes in a thread (a broadcast needs one)."""

    payload: type[P]
    draw: Callable[[P, Sequence[PlaybookStep], bool], Rendered]


def _session_kind(
    text: Callable[[GoSession, Sequence[PlaybookStep]], str],
    blocks: Callable[[GoSession, Sequence[PlaybookStep]], list[dict[str, Any]]],
) -> Renderer[SessionPayload]:
    return Renderer(
        SessionPayload,
        lambda data, steps, _: (text(data.session, steps), blocks(data.session, steps), {}),
    )


def _reminder(data: ReminderPayload, steps: Sequence[PlaybookStep], threaded: bool) -> Rendered:
    extra = {"reply_broadcast": data.escalate} if threaded else {}
    return reminder_text(data), reminder_message(data, steps), extra


# Every kind of message the outbox owes, by kind: its typed payload and its renderer.
RENDERERS: dict[Kind, Renderer[Any]] = {
    "snapshot": _session_kind(lambda s, _: snapshot_text(s), snapshot_message),
    "ended": _session_kind(lambda _s, _t: "GO session ended", summary_message),
    "playbook": _session_kind(playbook_text, playbook_message),
    "reminder": Renderer(ReminderPayload, _reminder),
    "drift": Renderer(
        DriftPayload, lambda data, _s, _t: ("GO health watch", drift_message(data), {})
    ),
    "timeline": Renderer(
        TimelinePayload,
        lambda data, _s, _t: ("GO session timeline", timeline_message(data.entry), {}),
    ),
    "window": Renderer(
        WindowPayload, lambda data, _s, _t: (window_text(data), window_message(data), {})
    ),
    "digest": Renderer(
        DigestPayload, lambda data, _s, _t: ("GO weekly digest", digest_message(data), {})
    ),
    "gate": Renderer(  # the fallback text carries outside text too: escaped as the blocks are
        GatePayload, lambda data, _s, _t: (safe(gate_text(data), 1000), gate_message(data), {})
    ),
    "approval": Renderer(
        ApprovalPayload,
        lambda data, steps, _t: (approval_text(data, steps), approval_message(data, steps), {}),
    ),
    "deploy": Renderer(
        DeployPayload,
        lambda data, _s, _t: (safe(deploy_text(data), 1000), deploy_message(data), {}),
    ),
}  # "github" is no Slack message: bot.routing sends it to GitHub


def render(item: OutboxItem, steps: Sequence[PlaybookStep], *, threaded: bool) -> Rendered | Failed:
    """The message an item posts, drawn by its kind's renderer."""
    renderer = RENDERERS.get(item.kind)
    if renderer is None or not isinstance(item.data, renderer.payload):
        return Failed(error=f"no message for a {item.kind} item", permanent=True)
    return renderer.draw(item.data, steps, threaded)
