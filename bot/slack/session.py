"""A GO session's commands: start and end it (a command with notes, or its form; an admin's
start during a change freeze with the reason that overrides it), see it, and the End session
button. How it looks is `bot.slack.session_views`."""

from __future__ import annotations

from datetime import timedelta

from bot.slack.blocks import (
    PLANNED,
    Blocks,
    context,
    text_message,
    to_dicts,
)
from bot.slack.capability import (
    Command,
    FormInput,
    Invocation,
    OpenForm,
    SessionButton,
    Text,
)
from bot.slack.freezes import StartText, may_override
from bot.slack.problems import problem_hint
from bot.slack.session_views import (
    END_ACTION,
    END_MODAL,
    START_MODAL,
    end_modal,
    open_steps,
    session_status,
    start_modal,
)
from core.durations import parse_duration
from core.errors import FreezeInForce, InvalidInput, SessionAlreadyActive
from core.models import OUTCOMES, Outcome, SessionChange
from core.services import Services


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
