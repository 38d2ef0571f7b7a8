"""The launch playbook of a session: `/go-checklist`, `/go-next`, `/go-complete`, `/go reopen`,
`/go reset` and the steps' Complete and Reopen buttons (a step that needs a second operator is
asked for instead); the playbook message in the session's thread (edited in place), the
checklist and the next step, each showing who asked for and who approved a step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field
from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ConfirmObject,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.slack.approvals import approval_state
from bot.slack.blocks import Blocks, section, text_message, to_dicts, unseen
from bot.slack.capability import Arguments, Button, Command, Invocation, Text
from bot.slack.mrkdwn import date, fit, safe, who
from core.errors import InvalidInput
from core.models import (
    START_APPROVAL,
    Approval,
    Checklist,
    ChecklistItem,
    GoSession,
    NextStep,
    PlaybookStep,
)
from core.playbook import Completion, run_checklist
from core.services import Services

COMPLETE_ACTION = "go_step_complete"
REOPEN_ACTION = "go_step_reopen"


def playbook_progress(session: GoSession, steps: Sequence[PlaybookStep]) -> str:
    """How far the session's playbook run got: `3/9 steps`, the next one, what was skipped."""
    done = [step.id in session.playbook for step in steps]
    line = f"*Playbook:* {sum(done)}/{len(steps)} steps"
    open_numbers = [number for number, finished in enumerate(done, start=1) if not finished]
    if not open_numbers:
        return line + ", all done"
    if session.active:
        step = steps[open_numbers[0] - 1]
        return line + f", next: *{open_numbers[0]}. {safe(step.title, 150)}*"
    return line + f"; not done: {', '.join(str(number) for number in open_numbers)}"


def _step_line(item: ChecklistItem) -> str:
    """A step: who did it and when (and who approved it), or how its approval stands."""
    mark = ":white_check_mark:" if item.done else ":white_large_square:"
    line = f"{mark} *{item.number}.* {safe(item.title, 150)} `{safe(item.id, 64)}`"
    if item.done:
        line += f" — {who(item.completed_by)} at {date(item.completed_at_utc)}"
        if item.approved_by:
            line += f", approved by {who(item.approved_by)}"
        if item.notes:
            line += f": _{safe(item.notes, 300)}_"
    elif item.approval is not None:
        line += f" — {approval_state(item.approval)}"
    return line


class StepButton(Button):
    """What a step's Complete or Reopen button carries: the session whose run it changes (an
    old button never changes a newer run), the step, and the session's channel (App Home's
    buttons come from no channel). Older buttons: `"<session> <step> <channel or ->"`."""

    session_id: str = Field(min_length=1, max_length=100)
    step: str = Field(min_length=1, max_length=100)
    channel: str | None = Field(default=None, max_length=30, pattern=r"^[A-Z0-9]+$")

    @classmethod
    def at(cls, session: GoSession, step: str) -> StepButton:
        return cls(session_id=session.id or "-", step=step, channel=session.channel)

    @classmethod
    def legacy(cls, value: str) -> dict[str, Any]:
        session_id, step, channel = [*value.split(" "), "", "", ""][:3]
        return {"session_id": session_id, "step": step, "channel": channel.strip("-") or None}


def _step_block(item: ChecklistItem, session: GoSession) -> SectionBlock:
    """A step of a run, with Complete while open, or Reopen (asking first) once done; none
    once the session has ended."""
    accessory: ButtonElement | None = None
    value = StepButton.at(session, item.id).value()
    if session.active and item.done:
        accessory = ButtonElement(
            text="Reopen",
            action_id=REOPEN_ACTION,
            value=value,
            confirm=ConfirmObject(
                title="Reopen this step?",
                text=PlainTextObject(
                    text=f"Step {item.number} goes back to open; who did it and when is kept in "
                    "the audit trail."
                ),
                confirm="Reopen",
                deny="Keep it done",
            ),
        )
    elif session.active:
        accessory = ButtonElement(
            text="Complete", action_id=COMPLETE_ACTION, value=value, style="primary"
        )
    return SectionBlock(
        text=MarkdownTextObject(verbatim=True, text=fit(_step_line(item), 3000)),
        accessory=accessory,
    )


def playbook_blocks(session: GoSession, steps: Sequence[PlaybookStep]) -> list[Block]:
    checklist = run_checklist(steps, session)
    head = playbook_progress(session, steps)
    if not session.active:
        head += " (the session has ended)"
    start = session.approvals.get(START_APPROVAL)
    if start is not None:
        head += f"\n*Start:* {approval_state(start)}"
    return [section(head), *(_step_block(item, session) for item in checklist.steps)]


def playbook_message(session: GoSession, steps: Sequence[PlaybookStep]) -> list[dict[str, Any]]:
    """The session's one playbook message in its thread: every step with its state, who did
    it and when, and a button to complete or reopen it while the session is active."""
    return to_dicts(playbook_blocks(session, steps))


def playbook_text(session: GoSession, steps: Sequence[PlaybookStep]) -> str:
    """Notification fallback text for the playbook message."""
    done = sum(step.id in session.playbook for step in steps)
    return f"GO playbook: {done}/{len(steps)} steps done"


def checklist_blocks(checklist: Checklist) -> list[Block]:
    if checklist.session_active:
        head = f"*Launch playbook* — {checklist.completed}/{checklist.total} done"
    else:
        head = (
            "*Launch playbook* — no active GO session: each session runs these steps afresh "
            "(start one with `/go-start`)"
        )
    return [section(head), section("\n".join(_step_line(item) for item in checklist.steps))]


def checklist_message(checklist: Checklist) -> list[dict[str, Any]]:
    return to_dicts(checklist_blocks(checklist))


def next_step_message(nxt: NextStep) -> list[dict[str, Any]]:
    if not nxt.session_active:
        return text_message(
            "No active GO session: the playbook runs with a session. Start one with `/go-start`."
        )
    if nxt.step is None:
        return text_message(f":tada: All {nxt.total} playbook steps are done.")
    step = nxt.step
    return text_message(
        f"*Next step {step.number}/{nxt.total}:* {safe(step.title, 150)} `{safe(step.id, 64)}`\n"
        f"{safe(step.description, 1000)}\n"
        f"Complete it with `/go-complete {step.number} [notes]`."
    )


def _checklist(services: Services, call: Invocation, given: Text) -> Blocks:
    return checklist_message(services.playbook.checklist(call.channel))


def _next(services: Services, call: Invocation, given: Text) -> Blocks:
    return next_step_message(services.playbook.next_step(call.channel))


def _title(item: ChecklistItem) -> str:
    return f"*{item.number}. {safe(item.title, 150)}*"


def _order(done: Completion) -> str:
    """ " (step 6 done before step 5)", or nothing when the steps before it are done."""
    if not done.skipped:
        return ""
    open_steps = ", ".join(str(number) for number in done.skipped)
    plural = "s" if len(done.skipped) > 1 else ""
    return f" (step {done.item.number} done before step{plural} {open_steps})"


class StepNotes(Arguments):
    """`/go-complete <step> [notes]`."""

    step: str
    notes: str = ""

    @classmethod
    def parse(cls, text: str) -> dict[str, Any]:
        step, _, notes = text.partition(" ")
        if not step:
            raise InvalidInput("Usage: `/go-complete <step> [notes]`, e.g. `/go-complete 3 done`.")
        return {"step": step, "notes": notes}


class OneStep(Arguments):
    """`/go reopen <step>`."""

    step: str

    @classmethod
    def parse(cls, text: str) -> dict[str, Any]:
        if not text.strip():
            raise InvalidInput("Usage: `/go reopen <step>`, e.g. `/go reopen 3`.")
        return {"step": text.strip()}


def _waiting(done: Completion, waiting: Approval) -> Blocks:
    """A step that needs a second operator: asked now (the request is in the thread), or
    waiting already."""
    if done.asked:
        return text_message(
            f":raising_hand: Step {_title(done.item)} needs a second operator: an approval "
            "request is in the session's thread." + unseen(done.delivery, "the approval request")
        )
    return text_message(f"Step {_title(done.item)} {approval_state(waiting)}.")


def _complete(services: Services, call: Invocation, given: StepNotes) -> Blocks:
    done = services.playbook.complete(given.step, call.user, given.notes, call.channel)
    if done.waiting is not None:
        return _waiting(done, done.waiting)
    if not done.newly:
        return text_message(f"Step {_title(done.item)} was already done.")
    nxt = services.playbook.next_step(call.channel)
    after = f" Next: *{nxt.step.number}. {safe(nxt.step.title, 150)}*." if nxt.step else ""
    return text_message(
        f":white_check_mark: Step {_title(done.item)} done{_order(done)}.{after}"
        + unseen(done.delivery)
    )


def _complete_button(services: Services, call: Invocation, button: StepButton) -> Blocks | None:
    """The step's Complete button: its effect shows on the playbook message; the clicker is
    told only what the message does not say."""
    done = services.playbook.complete(
        button.step, call.user, None, call.channel, session_id=button.session_id
    )
    if done.waiting is not None:
        return _waiting(done, done.waiting) if not done.asked or done.delivery.problem else None
    if not done.newly:
        return text_message(f"Step {_title(done.item)} was already done.")
    note = _order(done) + unseen(done.delivery)
    if not note:
        return None
    return text_message(f":white_check_mark: Step {_title(done.item)} done{note}.")


def _reopen(services: Services, call: Invocation, given: OneStep) -> Blocks:
    reopened = services.playbook.reopen(given.step, call.user, call.channel)
    return text_message(
        f":leftwards_arrow_with_hook: Step {_title(reopened.item)} is open again."
        + unseen(reopened.delivery)
    )


def _reopen_button(services: Services, call: Invocation, button: StepButton) -> Blocks | None:
    reopened = services.playbook.reopen(
        button.step, call.user, call.channel, session_id=button.session_id
    )
    if reopened.delivery.problem is None:
        return None
    return text_message(
        f":leftwards_arrow_with_hook: Step {_title(reopened.item)} is open again."
        + unseen(reopened.delivery)
    )


def _reset(services: Services, call: Invocation, given: Text) -> Blocks:
    checklist = services.playbook.reset(call.user, call.channel)
    return text_message(
        f"The session's playbook run is reset: {checklist.completed}/{checklist.total} done."
    )


COMMANDS: tuple[Command, ...] = (
    Command("checklist", "checklist", "show the launch playbook", _checklist, slash="own"),
    Command("next", "next", "show the next playbook step", _next, slash="own"),
    Command(
        "complete",
        "complete <step> [notes]",
        "mark a playbook step done",
        _complete,
        "operator",
        "complete playbook steps",
        "Not completed",
        limited=True,
        input=StepNotes,
        slash="own",
    ),
    Command(
        "reopen",
        "reopen <step>",
        "open a step completed by mistake again",
        _reopen,
        "operator",
        "reopen playbook steps",
        "Not reopened",
        limited=True,
        input=OneStep,
        slash="umbrella",
    ),
    Command(
        "reset",
        "reset",
        "clear the session's playbook run (admins: GOBOT_ADMINS)",
        _reset,
        "admin",
        "reset the playbook",
        "Not reset",
        limited=True,
        slash="umbrella",
    ),
    Command(
        "complete-button",
        "Complete",
        "complete the playbook step the button belongs to",
        _complete_button,
        "operator",
        "complete playbook steps",
        "Not completed",
        limited=True,
        input=StepButton,
        actions=(COMPLETE_ACTION,),
    ),
    Command(
        "reopen-button",
        "Reopen",
        "open the playbook step the button belongs to again",
        _reopen_button,
        "operator",
        "reopen playbook steps",
        "Not reopened",
        limited=True,
        input=StepButton,
        actions=(REOPEN_ACTION,),
    ),
)
