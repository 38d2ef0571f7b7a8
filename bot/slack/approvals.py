"""Approvals in Slack: the request for a second operator's approval in the session's thread,
with **Approve** and **Reject** buttons, edited in place once answered to say who answered; the
buttons' capabilities; and the one line that says how an approval stands (the playbook
message, the checklist, App Home)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field
from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ConfirmObject

from bot.reports import SLACK, approval_words
from bot.slack.blocks import Blocks, context, section, text_message, to_dicts, unseen
from bot.slack.capability import Button, Command, Invocation
from bot.slack.mrkdwn import date, safe, who
from core.approvals import describe
from core.models import Approval, GoSession, MessageRef, PlaybookStep
from core.outbox import ApprovalPayload
from core.services import Services

APPROVE_ACTION = "go_approval_approve"
REJECT_ACTION = "go_approval_reject"


class ApprovalButton(Button):
    """What an Approve or Reject button carries: the session and what was asked (a step's id,
    or `@start`), so that an old request never answers a newer one."""

    session_id: str = Field(min_length=1, max_length=100)
    key: str = Field(min_length=1, max_length=65)

    @classmethod
    def of_request(cls, session: GoSession, approval: Approval) -> ApprovalButton:
        return cls(session_id=session.id or "-", key=approval.key)


def approval_state(approval: Approval) -> str:
    """How an approval stands: who asked, and who answered (or that it waits)."""
    words = approval_words(approval, SLACK)
    return f":hourglass_flowing_sand: {words}" if approval.state == "pending" else words


def approval_blocks(data: ApprovalPayload, steps: Sequence[PlaybookStep]) -> list[Block]:
    approval = data.approval
    what = safe(describe(approval.key, steps), 300)
    notes = f"\n_{safe(approval.notes, 1000)}_" if approval.notes else ""
    if approval.state == "pending":
        value = ApprovalButton.of_request(data.session, approval).value()
        return [
            section(
                f":raising_hand: *Approval needed:* {what}, asked by {who(approval.asked_by)} "
                f"at {date(approval.asked_at_utc)}{notes}"
            ),
            ActionsBlock(
                block_id="go_approval_actions",
                elements=[
                    ButtonElement(
                        text="Approve", action_id=APPROVE_ACTION, value=value, style="primary"
                    ),
                    ButtonElement(
                        text="Reject",
                        action_id=REJECT_ACTION,
                        value=value,
                        style="danger",
                        confirm=ConfirmObject(
                            title="Reject this request?",
                            text=f"{describe(approval.key, steps)[:250]} stays undone.",
                            confirm="Reject",
                            deny="Cancel",
                        ),
                    ),
                ],
            ),
            context("Only an operator other than the one who asked can approve or reject."),
        ]
    mark = ":white_check_mark: *Approved:*" if approval.state == "approved" else ":no_entry:"
    if approval.state == "rejected":
        mark += " *Rejected:*"
    return [section(f"{mark} {what}, {approval_state(approval)}{notes}")]


def approval_message(data: ApprovalPayload, steps: Sequence[PlaybookStep]) -> list[dict[str, Any]]:
    """The request in the session's thread (or, answered, what it became)."""
    return to_dicts(approval_blocks(data, steps))


def approval_text(data: ApprovalPayload, steps: Sequence[PlaybookStep]) -> str:
    """Notification fallback text of the request."""
    what = describe(data.approval.key, steps)
    if data.approval.state == "pending":
        return f"GO approval needed: {what}"
    return f"GO approval: {what} {data.approval.state}"


def _answer(
    services: Services, call: Invocation, button: ApprovalButton, approve: bool
) -> Blocks | None:
    """The request's button: its effect shows on the request, edited in place; the clicker is
    told only what the message does not say (it was answered already, or could not be
    shown)."""
    ts = (call.message or {}).get("ts")
    message = MessageRef(channel=call.channel, ts=str(ts)) if call.channel and ts else None
    answer = services.approvals.answer(
        button.session_id,
        button.key,
        by=call.user,
        approve=approve,
        message=message,
        reply_to=call.reply_to,
    )
    what = safe(answer.what[:1].upper() + answer.what[1:], 300)
    if not answer.newly:
        return text_message(f"{what} was answered already: {approval_state(answer.approval)}.")
    note = unseen(answer.delivery, "the answer")
    return text_message(f"{what}: {answer.approval.state}.{note}") if note else None


def _approve(services: Services, call: Invocation, button: ApprovalButton) -> Blocks | None:
    return _answer(services, call, button, True)


def _reject(services: Services, call: Invocation, button: ApprovalButton) -> Blocks | None:
    return _answer(services, call, button, False)


COMMANDS: tuple[Command, ...] = (
    Command(
        "approve-button",
        "Approve",
        "approve a step (or a start) another operator asked for (GOBOT_APPROVAL_STEPS)",
        _approve,
        "operator",
        "approve playbook steps",
        "Not approved",
        limited=True,
        input=ApprovalButton,
        actions=(APPROVE_ACTION,),
    ),
    Command(
        "reject-button",
        "Reject",
        "reject a step (or a start) another operator asked for; a rejected start ends it",
        _reject,
        "operator",
        "reject playbook steps",
        "Not rejected",
        limited=True,
        input=ApprovalButton,
        actions=(REJECT_ACTION,),
    ),
)
