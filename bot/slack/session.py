"""A GO session: start and end it (a command with notes, or its form; an admin's start during
a change freeze with the reason that overrides it), see it, and the End session button; the
channel post with its snapshot and buttons, the summary in its thread, the start and end
forms, and the session as `/go-session` and App Home show it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)

from bot.reports import session_drift
from bot.slack.blocks import (
    PLANNED,
    Blocks,
    context,
    header,
    modal,
    notes_input,
    section,
    snapshot_blocks,
    text_message,
    to_dicts,
)
from bot.slack.capability import (
    Command,
    FormInput,
    Invocation,
    OpenForm,
    Place,
    SessionButton,
    Text,
)
from bot.slack.freezes import StartText, may_override, override_blocks, override_line
from bot.slack.mrkdwn import channel, date, safe, who
from bot.slack.playbook import playbook_progress
from bot.slack.problems import problem_hint
from bot.slack.workspace import TAKE_OVER_ACTION
from core.durations import format_duration, parse_duration
from core.errors import FreezeInForce, InvalidInput, SessionAlreadyActive
from core.models import OUTCOMES, GoSession, GoWindow, Outcome, PlaybookStep, SessionChange
from core.services import Services

END_ACTION = "go_end_session"
SNOOZE_ACTIONS = {"go_snooze_30m": "30m", "go_snooze_1h": "1h", "go_snooze_2h": "2h"}
START_MODAL = "go_start_modal"
END_MODAL = "go_end_modal"


def snapshot_message(session: GoSession, steps: Sequence[PlaybookStep]) -> list[dict[str, Any]]:
    """The channel post of a session: live with an End button, or ended without one."""
    if session.snapshot is None:
        raise ValueError("a session without a snapshot has nothing to post")
    title = "GO session started" if session.active else "GO session ended"
    blocks: list[Block] = [header(title), *snapshot_blocks(session.snapshot)]
    if session.notes:
        blocks.append(section(f"*Notes*\n{safe(session.notes, 2900)}"))
    blocks.append(
        context(
            f"Started by {who(session.started_by)} at {date(session.started_at_utc)}"
            + _owned(session)
        )
    )
    blocks.append(context(playbook_progress(session, steps)))
    if (overridden := override_line(session)) is not None:
        blocks.append(context(overridden))
    if session.link or session.planned_end_utc:
        blocks.append(context(_plan(session)))
    if session.active:
        blocks.append(session_actions(session, "go_session_actions"))
    else:
        duration = format_duration(timedelta(seconds=session.duration_seconds or 0))
        blocks.append(
            context(
                f"Ended by {who(session.ended_by)} at {date(session.ended_at_utc)} after {duration}"
            )
        )
    return to_dicts(blocks)


def _value(session: GoSession) -> str:
    """What a button of the session's carries."""
    return SessionButton(session_id=session.id).value() if session.id else ""


def session_actions(session: GoSession, block_id: str) -> ActionsBlock:
    """End session (it opens the end form), Snooze reminders for 30m / 1h / 2h, and Take
    over (become the session's owner)."""
    buttons = [
        ButtonElement(
            text="End session", action_id=END_ACTION, value=_value(session), style="danger"
        ),
        *(
            ButtonElement(text=f"Snooze {label}", action_id=action, value=_value(session))
            for action, label in SNOOZE_ACTIONS.items()
        ),
        ButtonElement(text="Take over", action_id=TAKE_OVER_ACTION, value=_value(session)),
    ]
    return ActionsBlock(block_id=block_id, elements=buttons)


def snapshot_text(session: GoSession) -> str:
    """Notification fallback text for the channel post."""
    state = "started" if session.active else "ended"
    band, status = safe(session.cone_band or "?", 20), safe(session.status or "?", 20)
    return f"GO session {state} by {who(session.started_by)}: band {band}, health {status}"


def summary_message(session: GoSession, steps: Sequence[PlaybookStep]) -> list[dict[str, Any]]:
    """The thread reply when a session ends."""
    duration = format_duration(timedelta(seconds=session.duration_seconds or 0))
    lines = [
        f"*Session ended* by {who(session.ended_by)} after *{duration}*"
        + (f": *{safe(session.outcome, 20)}*." if session.outcome else "."),
        f"*Drift:* {safe(session_drift(session))}",
        playbook_progress(session, steps),
    ]
    if session.end_notes:
        lines.append(f"*End notes*\n{safe(session.end_notes, 2500)}")
    return to_dicts([section("\n".join(lines))])


def _plan(session: GoSession) -> str:
    """The session's link and planned end, as the post shows them."""
    parts = []
    if session.link:
        parts.append(f"*Link:* <{safe(session.link, 500)}|{safe(session.link, 100)}>")
    if session.planned_end_utc:
        parts.append(f"*Planned end:* {date(session.planned_end_utc)}")
    return " · ".join(parts)


def start_modal(channel: str | None, freeze: GoWindow | None = None) -> dict[str, Any]:
    """`/go-start` with no text: notes, a planned duration, a link; while `freeze` holds, the
    reason that overrides it (the form is opened for admins only then)."""
    planned = StaticSelectElement(
        action_id="planned",
        placeholder="none",
        options=[Option(text=label, value=label) for label in PLANNED],
    )
    link = PlainTextInputElement(action_id="link", placeholder="https://…")
    return modal(
        START_MODAL,
        "Start a GO session",
        "Start",
        Place(channel=channel).value(),
        [
            notes_input("Notes"),
            InputBlock(
                block_id="planned", label="Planned duration", optional=True, element=planned
            ),
            InputBlock(
                block_id="link", label="Ticket, change or runbook", optional=True, element=link
            ),
            *(override_blocks(freeze) if freeze else ()),
        ],
    )


def open_steps(session: GoSession, steps: Sequence[PlaybookStep], *, ended: bool = False) -> str:
    """How many of the playbook's steps the session has (or, `ended`, had) open."""
    still_open = sum(step.id not in session.playbook for step in steps)
    if not still_open:
        return f"Every playbook step {'was' if ended else 'is'} done."
    if ended:
        verb = "was" if still_open == 1 else "were"
        return f"{still_open} of {len(steps)} playbook steps {verb} left open."
    verb = "is" if still_open == 1 else "are"
    return f"{still_open} of {len(steps)} playbook steps {verb} still open."


def end_modal(
    channel: str | None,
    session: GoSession | None = None,
    steps: Sequence[PlaybookStep] = (),
    *,
    only: bool = True,
) -> dict[str, Any]:
    """`/go-end` with no text, or an **End session** button: end notes and the outcome (empty:
    completed), and how many of the playbook's steps the active `session` still has open.
    `only` (from a button): the form ends only that session."""
    choices = [Option(text=outcome.capitalize(), value=outcome) for outcome in OUTCOMES]
    outcome = StaticSelectElement(action_id="outcome", options=choices, initial_option=choices[0])
    blocks: list[Block] = [
        notes_input("End notes"),
        InputBlock(block_id="outcome", label="Outcome", optional=True, element=outcome),
    ]
    if session is not None and session.id:
        blocks.insert(0, context(open_steps(session, steps)))
    about = session.id if session is not None and only else None
    metadata = Place(channel=channel, about=about).value()
    return modal(END_MODAL, "End the GO session", "End session", metadata, blocks)


def _owned(session: GoSession) -> str:
    """` · owner: @x` once the session was handed over."""
    if session.current_owner == session.started_by:
        return ""
    return f" · owner: {who(session.current_owner)}"


def _in(session: GoSession) -> str:
    return f" in {channel(session.channel)}" if session.channel else ""


def session_blocks(session: GoSession) -> list[Block]:
    if session.started_at_utc is None:
        return [section("No GO session yet. Start one with `/go-start [notes]`.")]
    if not session.active or session.snapshot is None:
        duration = format_duration(timedelta(seconds=session.duration_seconds or 0))
        return [
            section(
                f"No active GO session. The last one was started by {who(session.started_by)}"
                f" at {date(session.started_at_utc)} and ended by {who(session.ended_by)} after "
                f"{duration}."
            )
        ]
    blocks: list[Block] = [
        section(
            f"*Active GO session*{_in(session)} started by {who(session.started_by)} at "
            f"{date(session.started_at_utc)}{_owned(session)}"
        ),
        *snapshot_blocks(session.snapshot),
    ]
    if session.notes:
        blocks.append(section(f"*Notes*\n{safe(session.notes, 2900)}"))
    return blocks


def session_status(session: GoSession) -> list[dict[str, Any]]:
    return to_dicts(session_blocks(session))


# handlers ------------------------------------------------------------------------------------
class StartForm(FormInput):
    notes: str = ""
    planned: str = ""
    link: str = ""
    override: str = ""


class EndForm(FormInput):
    notes: str = ""
    outcome: str = ""


def _start(services: Services, call: Invocation, given: StartText) -> Blocks | OpenForm:
    """`/go-start notes [--override reason]` (an admin's, during a change freeze); with no
    text and a trigger, the start form (none beside an active session, nor for anyone but an
    admin during a freeze: the refusal comes at once)."""
    if given.override is not None:
        may_override(call)
    elif not given.notes and call.trigger:
        services.sessions.ensure_can_start(call.channel)
        freeze = services.sessions.freeze(call.channel)
        if freeze is not None and not (call.access and call.access.permits(call.user, "admin")):
            raise FreezeInForce(freeze)
        return OpenForm(start_modal(call.channel, freeze))
    return _started(services, call, given.notes, override=given.override)


def _start_form(services: Services, call: Invocation, form: StartForm) -> Blocks:
    """The start modal, submitted: notes, a planned duration, a link, and (an admin's,
    during a change freeze) the reason that overrides it."""
    if form.planned and form.planned not in PLANNED:
        raise InvalidInput(f"The planned duration must be one of {', '.join(PLANNED)}.")
    if form.override:
        may_override(call)
    return _started(
        services,
        call,
        form.notes,
        link=form.link,
        planned=parse_duration(form.planned) if form.planned else None,
        override=form.override or None,
    )


def _started(
    services: Services,
    call: Invocation,
    notes: str | None,
    *,
    link: str | None = None,
    planned: timedelta | None = None,
    override: str | None = None,
) -> Blocks:
    try:
        change = services.sessions.start(
            call.user,
            call.channel,
            notes,
            call.reply_to,
            link=link,
            planned=planned,
            override=override,
        )
    except SessionAlreadyActive as active:
        session = active.session
        if session.message is not None or session.channel != call.channel:
            raise
        # Run again after inviting the bot: the owed snapshot is what the operator wants.
        retried = services.sessions.redeliver(session)
        if retried is None:
            raise
        return change_message(
            retried,
            "A GO session is already active here; its snapshot had not been posted",
            "posted it now",
            "A GO session is already active here, but its snapshot still cannot be posted",
        )
    return started_message(change)


def started_message(change: SessionChange) -> Blocks:
    return change_message(
        change,
        "GO session started",
        "snapshot posted",
        "The GO session started, but its snapshot could not be posted",
    )


def _end(services: Services, call: Invocation, given: Text) -> Blocks | OpenForm:
    """`/go-end notes`; with no text and a trigger, the end form (with no active session,
    the refusal at once)."""
    if not given.text and call.trigger:
        services.sessions.ensure_can_end(call.channel)
        session = services.sessions.get(call.channel)
        return OpenForm(end_modal(call.channel, session, services.playbook.steps, only=False))
    return _ended(services, call, given.text, "completed")


def _end_form(services: Services, call: Invocation, form: EndForm) -> Blocks:
    """The end modal, submitted: end notes and the outcome (none chosen: completed); from an
    End session button, it ends only that button's session (`place.about`)."""
    outcome = next((o for o in OUTCOMES if o == (form.outcome or "completed")), None)
    if outcome is None:
        raise InvalidInput(f"The outcome must be one of: {', '.join(OUTCOMES)}.")
    return _ended(services, call, form.notes, outcome, form.place.about)


def _ended(
    services: Services,
    call: Invocation,
    notes: str | None,
    outcome: Outcome,
    session_id: str | None = None,
) -> Blocks:
    """End the session; the answer also says how many playbook steps were left open."""
    change = services.sessions.end(
        call.user, call.channel, notes, session_id, call.reply_to, outcome=outcome
    )
    told = change_message(
        change,
        "GO session ended",
        "summary posted",
        "The GO session ended, but the channel could not be told",
    )
    left = open_steps(change.session, services.playbook.steps, ended=True)
    return [*told, *to_dicts([context(left)])]


def _end_button(
    services: Services, call: Invocation, button: SessionButton
) -> Blocks | OpenForm | None:
    """With a trigger, the end form for the button's own session while it is active;
    otherwise (or once that session is over) the session is ended as the button says, which
    refuses an old button: it never ends a newer session."""
    if call.trigger:
        session = services.sessions.get(call.channel)
        if session.active and session.id == button.session_id:
            return OpenForm(end_modal(call.channel, session, services.playbook.steps))
    change = services.sessions.end(
        call.user, call.channel, None, session_id=button.session_id, reply_to=call.reply_to
    )
    if change.delivery.problem:
        return change_message(
            change,
            "GO session ended",
            "",
            "The GO session ended, but the channel could not be told",
        )
    return None


def _session(services: Services, call: Invocation, given: Text) -> Blocks:
    return session_status(services.sessions.get(call.channel))


def change_message(change: SessionChange, done: str, posted: str, undelivered: str) -> Blocks:
    problem = change.delivery.problem
    if problem is not None:
        return text_message(f":warning: {undelivered}: {problem_hint(problem)}")
    if change.delivery.pending:
        return text_message(
            f":hourglass: {done}; Slack has not taken the message yet: it will be retried until "
            "it has."
        )
    return text_message(f":white_check_mark: {done}; {posted}.")


COMMANDS: tuple[Command, ...] = (
    Command(
        "start",
        "start [notes] [--override reason]",
        "open a GO session and post its snapshot (an admin overrides a change freeze, saying why)",
        _start,
        "operator",
        "start a GO session",
        "Not started",
        limited=True,
        input=StartText,
        slash="own",
        opens=START_MODAL,
    ),
    Command(
        "end",
        "end [notes]",
        "close the active GO session",
        _end,
        "operator",
        "end a GO session",
        "Not ended",
        slash="own",
        opens=END_MODAL,
    ),
    Command("session", "session", "show the current GO session", _session, slash="own"),
    Command(
        "start-form",
        "Start a GO session",
        "start a GO session from the start modal",
        _start_form,
        "operator",
        "start a GO session",
        "Not started",
        limited=True,
        input=StartForm,
        callback_id=START_MODAL,
    ),
    Command(
        "end-form",
        "End the GO session",
        "end the GO session from the end modal",
        _end_form,
        "operator",
        "end a GO session",
        "Not ended",
        input=EndForm,
        callback_id=END_MODAL,
    ),
    Command(
        "end-button",
        "End session",
        "open the end form for the session the button belongs to",
        _end_button,
        "operator",
        "end a GO session",
        "Not ended",
        input=SessionButton,
        actions=(END_ACTION,),
        opens=END_MODAL,
    ),
)
