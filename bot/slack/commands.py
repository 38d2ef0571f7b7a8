"""The one table of what a person can do with gobot in Slack, and the one path every
interaction takes.

Each row is declared once: name, usage, summary, who may do it, whether it is rate limited,
what to say when the store could not keep it, how it is reached (`/go-<name>` and `/go <name>`,
only `/go <name>`, or a button) and its handler. The Bolt registration, `/go help`, the manifest
and `gobot local` are derived from it. Every interaction (slash command or button) goes through
`Interactions.run`: authorize → rate-limit → one service call → render → metric and log line.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bot.observability import Metrics
from bot.slack import views
from bot.slack.mrkdwn import channel, date, plain, safe, who
from bot.slack.transport import problem_hint
from core.access import AccessPolicy, RateLimiter, Role
from core.clock import parse_utc
from core.durations import format_duration, parse_duration
from core.errors import (
    GoError,
    InvalidInput,
    PermissionDenied,
    SessionAlreadyActive,
    StoreUnavailable,
)
from core.models import OUTCOMES, ChecklistItem, Delivery, GoWindow, Outcome, SessionChange
from core.playbook import Completion
from core.services import Services
from core.workspace import Source

log = logging.getLogger("gobot.commands")
Blocks = list[dict[str, Any]]
MAX_SLACK_HISTORY = 20
UMBRELLA = "/go"
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|([UW][A-Z0-9]+)")


@dataclass(frozen=True)
class Invocation:
    """Who asked what, where to answer, and the request's signature (None in Socket Mode): a
    signed request changes state at most once, across every process of one store."""

    user: str
    channel: str | None
    args: str
    reply_to: str | None = None
    request: str | None = None
    access: AccessPolicy | None = None  # set by `Interactions.run`: who else may do what
    source: Source | None = None  # the message a shortcut or a reaction adds
    form: Mapping[str, str] | None = None  # a submitted modal's values by block id


@dataclass(frozen=True)
class Outputs:
    """What a workflow step hands on to the steps after it: its output parameters by name."""

    values: Mapping[str, str | int | bool]


Handler = Callable[[Services, Invocation], Blocks | Outputs | None]


@dataclass(frozen=True)
class Command:
    """One thing a person can do. `reach`: `slash` has its own `/go-<name>` and is a `/go`
    subcommand, `umbrella` only a `/go` subcommand, `button` only a button, `message` done to a
    message (its shortcut, or a reaction), `form` a submitted modal, `step` a workflow step
    (its handler returns Outputs). A handler that returns None has nothing to tell (a button
    whose effect shows in the channel)."""

    name: str
    usage: str
    summary: str
    handler: Handler
    role: Role | None = None
    verb: str = ""
    undone: str = "Nothing was done"
    limited: bool = False
    reach: Literal["slash", "umbrella", "button", "message", "form", "step"] = "slash"
    escapes: bool = False  # Slack sends mentions in the text as `<@U…|name>` (the manifest)


@dataclass(frozen=True)
class Reply:
    """What an interaction answers, and how it went (for the log line and the metrics); a
    workflow step's outputs, or (for anything but `ok`) what went wrong in plain text."""

    name: str
    blocks: Blocks | None
    outcome: str
    outputs: Mapping[str, str | int | bool] | None = None
    error: str | None = None


def user_message(error: BaseException, undone: str = "Nothing was done") -> str:
    """The one map from errors to what a Slack user reads: a typed error says what happened
    (a store failure also whether anything changed); anything else gets a short id that is also
    logged, never a stack trace."""
    if isinstance(error, StoreUnavailable):
        if error.kept:
            return f":warning: {safe(error.message[:1].upper() + error.message[1:])}."
        return (
            f":warning: {undone}: {safe(error.message)}. Nothing changed; try again once that "
            "is fixed."
        )
    if isinstance(error, SessionAlreadyActive):
        active = error.session
        where = f" in {channel(active.channel)}" if active.channel else ""
        return (
            f":warning: A GO session is already active: started by {who(active.started_by)}"
            f"{where} at {date(active.started_at_utc)}."
        )
    if isinstance(error, GoError):
        return f":warning: {safe(error.message)}"
    error_id = secrets.token_hex(4)
    log.error("unexpected error %s", error_id, exc_info=error)
    return (
        f":x: Something went wrong (error id `{error_id}`); it may not have been done. "
        "Check with `/go-session` before trying again."
    )


# handlers ------------------------------------------------------------------------------------
def _start(services: Services, call: Invocation) -> Blocks:
    return _started(services, call, call.args)


def _start_form(services: Services, call: Invocation) -> Blocks:
    """The start modal, submitted: notes, a planned duration, a link."""
    form = call.form or {}
    planned = form.get("planned") or ""
    if planned and planned not in views.PLANNED:
        raise InvalidInput(f"The planned duration must be one of {', '.join(views.PLANNED)}.")
    return _started(
        services,
        call,
        form.get("notes"),
        link=form.get("link"),
        planned=parse_duration(planned) if planned else None,
    )


def _started(
    services: Services,
    call: Invocation,
    notes: str | None,
    *,
    link: str | None = None,
    planned: timedelta | None = None,
) -> Blocks:
    try:
        change = services.sessions.start(
            call.user, call.channel, notes, call.reply_to, link=link, planned=planned
        )
    except SessionAlreadyActive as active:
        session = active.session
        if session.message is not None or session.channel != call.channel:
            raise
        # Run again after inviting the bot: the owed snapshot is what the operator wants.
        retried = services.sessions.redeliver(session)
        if retried is None:
            raise
        return _change_message(
            retried,
            "A GO session is already active here; its snapshot had not been posted",
            "posted it now",
            "A GO session is already active here, but its snapshot still cannot be posted",
        )
    return _started_message(change)


def _started_message(change: SessionChange) -> Blocks:
    return _change_message(
        change,
        "GO session started",
        "snapshot posted",
        "The GO session started, but its snapshot could not be posted",
    )


def _end(services: Services, call: Invocation) -> Blocks:
    return _ended(services, call, call.args, "completed")


def _end_form(services: Services, call: Invocation) -> Blocks:
    """The end modal, submitted: end notes and the outcome; `args` is the id of the session
    whose End session button opened it (empty from `/go-end`)."""
    form = call.form or {}
    outcome = next((o for o in OUTCOMES if o == form.get("outcome")), None)
    if outcome is None:
        raise InvalidInput(f"The outcome must be one of: {', '.join(OUTCOMES)}.")
    return _ended(services, call, form.get("notes"), outcome, call.args or None)


def _ended(
    services: Services,
    call: Invocation,
    notes: str | None,
    outcome: Outcome,
    session_id: str | None = None,
) -> Blocks:
    change = services.sessions.end(
        call.user, call.channel, notes, session_id, call.reply_to, outcome=outcome
    )
    return _change_message(
        change,
        "GO session ended",
        "summary posted",
        "The GO session ended, but the channel could not be told",
    )


def _end_button(services: Services, call: Invocation) -> Blocks | None:
    """`args` is the session id on the button: an old button never ends a newer session."""
    change = services.sessions.end(
        call.user, call.channel, None, session_id=call.args, reply_to=call.reply_to
    )
    if change.delivery.problem:
        return _change_message(
            change,
            "GO session ended",
            "",
            "The GO session ended, but the channel could not be told",
        )
    return None


def _snooze_button(services: Services, call: Invocation) -> Blocks:
    """`args` is `<duration> <session id>`: the duration from gobot's own table of buttons,
    the rest the button's value, taken only as the id of the session to snooze."""
    duration, _, session_id = call.args.partition(" ")
    scope = services.sessions.scope_for(call.channel)
    snoozed = services.reminders.snooze(scope, session_id, call.user, parse_duration(duration))
    return views.text_message(
        f":zzz: Reminders snoozed for {safe(duration, 20)}: the next one is due at "
        f"{date(snoozed.reminder.next_due_utc)}."
    )


def _session(services: Services, call: Invocation) -> Blocks:
    return views.session_status(services.sessions.get(call.channel))


def _checklist(services: Services, call: Invocation) -> Blocks:
    return views.checklist_message(services.playbook.checklist(call.channel))


def _next(services: Services, call: Invocation) -> Blocks:
    return views.next_step_message(services.playbook.next_step(call.channel))


def _unseen(delivery: Delivery, what: str = "the playbook message") -> str:
    """What to add when the channel could not be shown the change."""
    if delivery.problem is None:
        return ""
    return f"\n:warning: The channel could not be shown {what}: {problem_hint(delivery.problem)}"


def _title(item: ChecklistItem) -> str:
    return f"*{item.number}. {safe(item.title, 150)}*"


def _order(done: Completion) -> str:
    """ " (step 6 done before step 5)", or nothing when the steps before it are done."""
    if not done.skipped:
        return ""
    open_steps = ", ".join(str(number) for number in done.skipped)
    plural = "s" if len(done.skipped) > 1 else ""
    return f" (step {done.item.number} done before step{plural} {open_steps})"


def _complete(services: Services, call: Invocation) -> Blocks:
    step, _, notes = call.args.partition(" ")
    if not step:
        raise InvalidInput("Usage: `/go-complete <step> [notes]`, e.g. `/go-complete 3 done`.")
    done = services.playbook.complete(step, call.user, notes, call.channel)
    if not done.newly:
        return views.text_message(f"Step {_title(done.item)} was already done.")
    nxt = services.playbook.next_step(call.channel)
    after = f" Next: *{nxt.step.number}. {safe(nxt.step.title, 150)}*." if nxt.step else ""
    return views.text_message(
        f":white_check_mark: Step {_title(done.item)} done{_order(done)}.{after}"
        + _unseen(done.delivery)
    )


def _complete_button(services: Services, call: Invocation) -> Blocks | None:
    """The step's Complete button: its effect shows on the playbook message; the clicker is
    told only what the message does not say."""
    button = views.StepButton.parse(call.args)
    done = services.playbook.complete(
        button.step, call.user, None, call.channel, session_id=button.session_id
    )
    if not done.newly:
        return views.text_message(f"Step {_title(done.item)} was already done.")
    note = _order(done) + _unseen(done.delivery)
    if not note:
        return None
    return views.text_message(f":white_check_mark: Step {_title(done.item)} done{note}.")


def _reopen(services: Services, call: Invocation) -> Blocks:
    step = call.args.strip()
    if not step:
        raise InvalidInput("Usage: `/go reopen <step>`, e.g. `/go reopen 3`.")
    reopened = services.playbook.reopen(step, call.user, call.channel)
    return views.text_message(
        f":leftwards_arrow_with_hook: Step {_title(reopened.item)} is open again."
        + _unseen(reopened.delivery)
    )


def _reopen_button(services: Services, call: Invocation) -> Blocks | None:
    button = views.StepButton.parse(call.args)
    reopened = services.playbook.reopen(
        button.step, call.user, call.channel, session_id=button.session_id
    )
    if reopened.delivery.problem is None:
        return None
    return views.text_message(
        f":leftwards_arrow_with_hook: Step {_title(reopened.item)} is open again."
        + _unseen(reopened.delivery)
    )


def _note(services: Services, call: Invocation) -> Blocks:
    added = services.workspace.note(call.user, call.channel, call.args)
    return views.text_message(
        ":memo: Added to the session's timeline." + _unseen(added.delivery, "its line")
    )


def _handover(services: Services, call: Invocation) -> Blocks:
    """`@user [notes]`: the mention as Slack escapes it (`<@U…|name>`), or a bare user ID."""
    target, _, notes = call.args.strip().partition(" ")
    found = MENTION.fullmatch(target)
    if found is None:
        raise InvalidInput(
            "Usage: `/go-handover @user [notes]`, naming one person "
            "(`/go handover` takes a user ID)."
        )
    to = found.group(1) or found.group(2)
    if call.access is not None and not call.access.permits(to, "operator"):
        raise InvalidInput(
            f"{to} is not a gobot operator, and only operators can own a GO session: "
            "nothing changed."
        )
    added = services.workspace.handover(call.user, call.channel, to, notes)
    return views.text_message(
        f":arrows_counterclockwise: {who(to)} owns the GO session now."
        + _unseen(added.delivery, "its line")
    )


def _take_over_button(services: Services, call: Invocation) -> Blocks | None:
    """`args`: the session id on the button; the clicker becomes the owner."""
    added = services.workspace.handover(call.user, call.channel, call.user, session_id=call.args)
    if added.delivery.problem is None:
        return None
    return views.text_message(
        ":arrows_counterclockwise: You own the GO session now."
        + _unseen(added.delivery, "its line")
    )


def _add_message(services: Services, call: Invocation) -> Blocks:
    """The message shortcut or the pin reaction: `call.source` is the message."""
    if call.source is None:
        raise InvalidInput("There is no message to add.")
    added = services.workspace.note(call.user, call.channel, call.source.text, call.source)
    if not added.newly:
        return views.text_message("That message is already on the session's timeline.")
    return views.text_message(
        ":pushpin: Added to the session's timeline." + _unseen(added.delivery, "its line")
    )


def _report(services: Services, call: Invocation) -> Blocks:
    return views.report_message(services.reports.report(call.channel))


def _history(services: Services, call: Invocation) -> Blocks:
    raw = call.args.strip() or "5"
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_SLACK_HISTORY:
        raise InvalidInput(f"Usage: `/go-history [n]` with n from 1 to {MAX_SLACK_HISTORY}.")
    return views.history_message(services.sessions.history(int(raw), call.channel))


def _reset(services: Services, call: Invocation) -> Blocks:
    checklist = services.playbook.reset(call.user, call.channel)
    return views.text_message(
        f"The session's playbook run is reset: {checklist.completed}/{checklist.total} done."
    )


def _planned(text: str) -> timedelta:
    if text not in views.PLANNED:
        raise InvalidInput(f"The planned duration must be one of {', '.join(views.PLANNED)}.")
    return parse_duration(text)


def _window_planned(window: GoWindow, what: str) -> Blocks:
    length = format_duration(timedelta(seconds=window.duration_seconds))
    return views.text_message(
        f":calendar: GO window {what}: {date(window.starts_at_utc)} for {length} in "
        f"{channel(window.channel)}. Its channel is reminded before it; `/go-windows` lists it."
    )


def _schedule(services: Services, call: Invocation) -> Blocks:
    """`/go-schedule WHEN DURATION [notes]`, WHEN in ISO 8601 (UTC unless it says otherwise)."""
    when, _, rest = call.args.strip().partition(" ")
    duration, _, notes = rest.strip().partition(" ")
    try:
        starts_at = parse_utc(when)
    except (ValueError, OverflowError):
        raise InvalidInput(
            "Usage: `/go-schedule` (a form), or `/go-schedule 2026-12-01T14:00Z 1h [notes]`."
        ) from None
    window = services.windows.schedule(
        call.user, call.channel, starts_at, _planned(duration), notes=notes
    )
    return _window_planned(window, "planned")


def _schedule_form(services: Services, call: Invocation) -> Blocks:
    """The schedule modal, submitted; `args` is the id of a window being moved."""
    form = call.form or {}
    raw = form.get("when", "")
    try:
        starts_at = datetime.fromtimestamp(int(raw), UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidInput("Pick a date and a time for the GO window.") from None
    duration = _planned(form.get("planned", ""))
    if call.args:
        return _window_planned(
            services.windows.move(call.user, call.args, starts_at, duration), "moved"
        )
    window = services.windows.schedule(
        call.user,
        form.get("channel") or call.channel,
        starts_at,
        duration,
        notes=form.get("notes"),
        link=form.get("link"),
    )
    return _window_planned(window, "planned")


def _windows(services: Services, call: Invocation) -> Blocks:
    return views.windows_message(services.windows.upcoming(call.channel))  # of its scope


def _window_start(services: Services, call: Invocation) -> Blocks:
    """Start now: the window's session, with its notes, link and planned duration."""
    return _started_message(services.windows.start(call.user, call.args, call.reply_to))


def _window_move(services: Services, call: Invocation) -> Blocks:
    """Move, where no form can be opened (the form opens everywhere Slack runs)."""
    window = services.windows.scheduled(call.args)
    return views.text_message(
        f"Cancel this window and plan it again with `/go-schedule`: it starts "
        f"{date(window.starts_at_utc)}."
    )


def _window_cancel(services: Services, call: Invocation) -> Blocks:
    window = services.windows.cancel(call.user, call.args)
    return views.text_message(
        f":wastebasket: The GO window of {date(window.starts_at_utc)} is cancelled."
    )


def _help(services: Services, call: Invocation) -> Blocks:
    return views.text_message(help_text())


def _change_message(change: SessionChange, done: str, posted: str, undelivered: str) -> Blocks:
    problem = change.delivery.problem
    if problem is not None:
        return views.text_message(f":warning: {undelivered}: {problem_hint(problem)}")
    if change.delivery.pending:
        return views.text_message(
            f":hourglass: {done}; Slack has not taken the message yet: it will be retried until "
            "it has."
        )
    return views.text_message(f":white_check_mark: {done}; {posted}.")


# the table -----------------------------------------------------------------------------------
COMMANDS: tuple[Command, ...] = (
    Command(
        "start",
        "start [notes]",
        "open a GO session and post its snapshot",
        _start,
        "operator",
        "start a GO session",
        "Not started",
        limited=True,
    ),
    Command(
        "end",
        "end [notes]",
        "close the active GO session",
        _end,
        "operator",
        "end a GO session",
        "Not ended",
    ),
    Command("session", "session", "show the current GO session", _session),
    Command("checklist", "checklist", "show the launch playbook", _checklist),
    Command("next", "next", "show the next playbook step", _next),
    Command(
        "complete",
        "complete <step> [notes]",
        "mark a playbook step done",
        _complete,
        "operator",
        "complete playbook steps",
        "Not completed",
        limited=True,
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
        reach="umbrella",
    ),
    Command(
        "note",
        "note <text>",
        "add a note to the active session's timeline",
        _note,
        "operator",
        "add notes",
        "Not added",
        limited=True,
    ),
    Command(
        "handover",
        "handover @user [notes]",
        "hand the active session to another operator",
        _handover,
        "operator",
        "hand over a GO session",
        "Not handed over",
        limited=True,
        escapes=True,
    ),
    Command(
        "report",
        "report",
        "the report of the active session, or of the last one",
        _report,
    ),
    Command(
        "history",
        f"history [n ≤ {MAX_SLACK_HISTORY}]",
        "show the last ended GO sessions",
        _history,
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
        reach="umbrella",
    ),
    Command(
        "schedule",
        "schedule [when duration notes]",
        "plan a GO window (a form, or e.g. 2026-12-01T14:00Z 1h deploy)",
        _schedule,
        "operator",
        "plan GO windows",
        "Not planned",
        limited=True,
    ),
    Command("windows", "windows", "list the planned GO windows", _windows),
    Command("help", "help", "show this help", _help, reach="umbrella"),
    Command(
        "schedule-form",
        "Plan a GO window",
        "plan or move a GO window from its form",
        _schedule_form,
        "operator",
        "plan GO windows",
        "Not planned",
        limited=True,
        reach="form",
    ),
    Command(
        "window-start",
        "Start now",
        "start the GO session of the window the button belongs to",
        _window_start,
        "operator",
        "start a GO session",
        "Not started",
        limited=True,
        reach="button",
    ),
    Command(
        "window-move",
        "Move",
        "move the window the button belongs to (a form)",
        _window_move,
        "operator",
        "plan GO windows",
        "Not moved",
        limited=True,
        reach="button",
    ),
    Command(
        "window-cancel",
        "Cancel",
        "cancel the window the button belongs to",
        _window_cancel,
        "operator",
        "plan GO windows",
        "Not cancelled",
        limited=True,
        reach="button",
    ),
    Command(
        "end-button",
        "End session",
        "open the end form for the session the button belongs to",
        _end_button,
        "operator",
        "end a GO session",
        "Not ended",
        reach="button",
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
        reach="button",
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
        reach="button",
    ),
    Command(
        "start-form",
        "Start a GO session",
        "start a GO session from the start modal",
        _start_form,
        "operator",
        "start a GO session",
        "Not started",
        limited=True,
        reach="form",
    ),
    Command(
        "end-form",
        "End the GO session",
        "end the GO session from the end modal",
        _end_form,
        "operator",
        "end a GO session",
        "Not ended",
        reach="form",
    ),
    Command(
        "add-message",
        "Add to GO session",
        "add a message to the active session's timeline (its shortcut, or a reaction)",
        _add_message,
        "operator",
        "add to a GO session's timeline",
        "Not added",
        limited=True,
        reach="message",
    ),
    Command(
        "take-over",
        "Take over",
        "become the owner of the session the button belongs to",
        _take_over_button,
        "operator",
        "take over a GO session",
        "Not taken over",
        limited=True,
        reach="button",
    ),
    Command(
        "snooze",
        "Snooze 30m / 1h / 2h",
        "move the session's next reminder",
        _snooze_button,
        "operator",
        "snooze reminders",
        "Not snoozed",
        limited=True,
        reach="button",
    ),
)
BY_NAME = {command.name: command for command in COMMANDS}
SUBCOMMANDS = {c.name: c for c in COMMANDS if c.reach in ("slash", "umbrella")}
SLASH_COMMANDS = (UMBRELLA, *(f"/go-{c.name}" for c in COMMANDS if c.reach == "slash"))
BUTTONS: dict[str, tuple[Command, str]] = {
    views.END_ACTION: (BY_NAME["end-button"], ""),
    views.TAKE_OVER_ACTION: (BY_NAME["take-over"], ""),
    views.COMPLETE_ACTION: (BY_NAME["complete-button"], ""),
    views.REOPEN_ACTION: (BY_NAME["reopen-button"], ""),
    views.WINDOW_START_ACTION: (BY_NAME["window-start"], ""),
    views.WINDOW_MOVE_ACTION: (BY_NAME["window-move"], ""),
    views.WINDOW_CANCEL_ACTION: (BY_NAME["window-cancel"], ""),
    **{action: (BY_NAME["snooze"], duration) for action, duration in views.SNOOZE_ACTIONS.items()},
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


def parse(command: str, text: str) -> tuple[str, str]:
    """`/go-start x` and `/go start x` both give `("start", "x")`."""
    text = (text or "").strip()
    name = command.strip().lstrip("/")
    if name.startswith("go-"):
        return name.removeprefix("go-"), text
    first, _, rest = text.partition(" ")
    return (first.lower() or "help"), rest.strip()


class Interactions:
    """authorize → rate-limit → run → metric and log line, for every interaction."""

    def __init__(
        self,
        services: Services,
        access: AccessPolicy,
        limiter: RateLimiter,
        metrics: Metrics,
        denials: RateLimiter,
    ) -> None:
        """`limiter` counts the changes a user made; `denials` the commands refused to a user
        who may not make them, so that a flood of those is cut short too."""
        self._services = services
        self._access = access
        self._limiter = limiter
        self._metrics = metrics
        self._denials = denials

    def may(self, user: str, command: Command) -> bool:
        """Whether the user has the command's role (a quiet check, for what nobody asked of
        gobot directly: a stranger's reaction costs no Slack call and no audit record)."""
        return command.role is None or self._access.permits(user, command.role)

    def slash(self, call: Invocation, command: str, received: float) -> Reply:
        """A slash command (`/go-<sub>` or `/go <sub>`) with its text in `call.args`."""
        name, args = parse(command, call.args)
        found = SUBCOMMANDS.get(name)
        if found is None:
            blocks = views.text_message(
                f":warning: Unknown subcommand `{safe(name, 40)}`.\n{help_text()}"
            )
            return self._done(Reply("unknown", blocks, "unknown_subcommand"), call, received)
        return self.run(found, replace(call, args=args), received)

    def run(self, command: Command, call: Invocation, received: float) -> Reply:
        try:
            if command.role is not None:
                self._denials.check(call.user)
                try:
                    self._access.check(call.user, command.role, command.verb, call.channel)
                except PermissionDenied:
                    self._denials.record(call.user)
                    raise
            if command.limited:
                self._limiter.check(call.user)
            if command.role is not None and not self._first_time(call):
                log.warning("a replayed %s request was not acted on", command.name)
                return self._done(Reply(command.name, None, "replayed"), call, received)
            result = command.handler(self._services, replace(call, access=self._access))
            if command.limited:
                self._limiter.record(call.user)  # only changes that happened count
            if isinstance(result, Outputs):
                reply = Reply(command.name, None, "ok", outputs=result.values)
            else:
                reply = Reply(command.name, result, "ok")
        except Exception as exc:
            text = user_message(exc, command.undone)
            code = exc.code if isinstance(exc, GoError) else "error"
            error = plain(re.sub(r"^:[a-z_]+: ", "", text)).replace("`", "")
            reply = Reply(command.name, views.text_message(text), code, error=error)
        return self._done(reply, call, received)

    def _first_time(self, call: Invocation) -> bool:
        if call.request is None:
            return True
        return self._services.requests.first(call.request, self._services.clock.now())

    def _done(self, reply: Reply, call: Invocation, received: float) -> Reply:
        latency_ms = round((time.monotonic() - received) * 1000, 1)
        self._metrics.commands.labels(reply.name, reply.outcome).inc()
        log.info(
            "%s by %s: %s in %.1f ms",
            reply.name,
            call.user,
            reply.outcome,
            latency_ms,
            extra={
                "user": call.user,
                "command": reply.name,
                "outcome": reply.outcome,
                "latency_ms": latency_ms,
                "channel": call.channel,
            },
        )
        return reply
