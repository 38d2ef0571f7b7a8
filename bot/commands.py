"""Slash commands: `/go-<sub>` and the umbrella `/go <sub>`, parsed once and routed to one
handler each. A handler authorizes, calls one core service method and renders the result."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot import views
from bot.mrkdwn import safe
from bot.wiring import Services
from core.access import AccessPolicy, RateLimiter, Role
from core.durations import parse_duration
from core.errors import GoError, InvalidInput, StoreUnavailable
from core.models import SessionChange

log = logging.getLogger("gobot.commands")
Blocks = list[dict[str, Any]]
MAX_SLACK_HISTORY = 20


@dataclass(frozen=True)
class Invocation:
    user: str
    channel: str | None
    sub: str
    args: str
    reply_to: str | None = None


@dataclass(frozen=True)
class Spec:
    """What a subcommand is: the one table behind the router, `/go help` and the manifest."""

    usage: str
    summary: str
    role: Role | None = None
    verb: str = ""
    undone: str = "Nothing was done"


SPECS: dict[str, Spec] = {
    "start": Spec(
        "start [notes]",
        "open a GO session and post its snapshot",
        "operator",
        "start a GO session",
        "Not started",
    ),
    "end": Spec(
        "end [notes]", "close the active GO session", "operator", "end a GO session", "Not ended"
    ),
    "session": Spec("session", "show the current GO session"),
    "checklist": Spec("checklist", "show the launch playbook"),
    "next": Spec("next", "show the next playbook step"),
    "complete": Spec(
        "complete <step> [notes]",
        "mark a playbook step done",
        "operator",
        "complete playbook steps",
        "Not completed",
    ),
    "history": Spec(f"history [n ≤ {MAX_SLACK_HISTORY}]", "show the last ended GO sessions"),
    "reset": Spec(
        "reset", "clear playbook progress (admins)", "admin", "reset the playbook", "Not reset"
    ),
    "help": Spec("help", "show this help"),
}


@dataclass(frozen=True)
class Reply:
    """What a command answers, and how it went (for the log line and the metrics)."""

    sub: str
    blocks: Blocks
    outcome: str


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
    if isinstance(error, GoError):
        return f":warning: {safe(error.message)}"
    error_id = secrets.token_hex(4)
    log.error("unexpected error %s", error_id, exc_info=error)
    return (
        f":x: Something went wrong (error id `{error_id}`); it may not have been done. "
        "Check with `/go-session` before trying again."
    )


class CommandRouter:
    def __init__(self, services: Services, access: AccessPolicy, limiter: RateLimiter) -> None:
        self._services = services
        self._access = access
        self._limiter = limiter
        self._handlers: dict[str, Callable[[Invocation], Blocks]] = {
            "start": self._start,
            "end": self._end,
            "session": self._session,
            "checklist": self._checklist,
            "next": self._next,
            "complete": self._complete,
            "history": self._history,
            "reset": self._reset,
            "help": self._help,
        }

    def parse(self, command: str, text: str) -> tuple[str, str]:
        """`/go-start x` and `/go start x` both give `("start", "x")`."""
        text = (text or "").strip()
        name = command.strip().lstrip("/")
        if name.startswith("go-"):
            return name.removeprefix("go-"), text
        first, _, rest = text.partition(" ")
        return (first.lower() or "help"), rest.strip()

    def run(
        self,
        user: str,
        channel: str | None,
        command: str,
        text: str,
        reply_to: str | None = None,
    ) -> Reply:
        sub, args = self.parse(command, text)
        spec, handler = SPECS.get(sub), self._handlers.get(sub)
        if spec is None or handler is None:
            blocks = views.text_message(
                f":warning: Unknown subcommand `{safe(sub, 40)}`.\n{self.help_text()}"
            )
            return Reply("unknown", blocks, "unknown_subcommand")
        try:
            if spec.role is not None:
                self._access.check(user, spec.role, spec.verb, channel)
                self._limiter.check(user)
            return Reply(sub, handler(Invocation(user, channel, sub, args, reply_to)), "ok")
        except GoError as exc:
            return Reply(sub, views.text_message(user_message(exc, spec.undone)), exc.code)
        except Exception as exc:
            return Reply(sub, views.text_message(user_message(exc, spec.undone)), "error")

    def help_text(self) -> str:
        lines = [f"`/go {spec.usage}` — {spec.summary}" for spec in SPECS.values()]
        return "*gobot commands* (each also as `/go-<name>`):\n" + "\n".join(lines)

    def _help(self, call: Invocation) -> Blocks:
        return views.text_message(self.help_text())

    def _start(self, call: Invocation) -> Blocks:
        change = self._services.sessions.start(call.user, call.channel, call.args, call.reply_to)
        return _change_message(
            change,
            "GO session started",
            "snapshot posted",
            "The GO session started, but its snapshot could not be posted",
        )

    def _end(self, call: Invocation) -> Blocks:
        change = self._services.sessions.end(
            call.user, call.channel, call.args, reply_to=call.reply_to
        )
        return _change_message(
            change,
            "GO session ended",
            "summary posted",
            "The GO session ended, but the channel could not be told",
        )

    def end_from_button(
        self, user: str, channel: str | None, session_id: str, reply_to: str | None = None
    ) -> Blocks | None:
        """The End session button; returns a message for the user only when something is off."""
        try:
            self._access.check(user, "operator", "end a GO session", channel)
            self._limiter.check(user)
            change = self._services.sessions.end(
                user, channel, None, session_id=session_id, reply_to=reply_to
            )
        except Exception as exc:
            return views.text_message(user_message(exc, "Not ended"))
        if change.delivery.problem:
            return _change_message(
                change,
                "GO session ended",
                "",
                "The GO session ended, but the channel could not be told",
            )
        return None

    def snooze_from_button(
        self, user: str, channel: str | None, session_id: str, duration: str
    ) -> Blocks:
        try:
            self._access.check(user, "operator", "snooze reminders", channel)
            scope = self._services.sessions.scope_for(channel)
            snoozed = self._services.reminders.snooze(
                scope, session_id, user, parse_duration(duration)
            )
        except Exception as exc:
            return views.text_message(user_message(exc, "Not snoozed"))
        return views.text_message(
            f":zzz: Reminders snoozed for {duration}: the next one is due at "
            f"{snoozed.reminder.next_due_utc}."
        )

    def _session(self, call: Invocation) -> Blocks:
        return views.session_status(self._services.sessions.get(call.channel))

    def _checklist(self, call: Invocation) -> Blocks:
        return views.checklist_message(self._services.playbook.checklist())

    def _next(self, call: Invocation) -> Blocks:
        return views.next_step_message(self._services.playbook.next_step())

    def _complete(self, call: Invocation) -> Blocks:
        step, _, notes = call.args.partition(" ")
        if not step:
            raise InvalidInput("Usage: `/go-complete <step> [notes]`, e.g. `/go-complete 3 done`.")
        item, newly = self._services.playbook.complete(step, call.user, notes, call.channel)
        title = f"*{item.number}. {safe(item.title, 150)}*"
        if not newly:
            return views.text_message(f"Step {title} was already done.")
        nxt = self._services.playbook.next_step()
        after = f" Next: *{nxt.step.number}. {safe(nxt.step.title, 150)}*." if nxt.step else ""
        return views.text_message(f":white_check_mark: Step {title} done.{after}")

    def _history(self, call: Invocation) -> Blocks:
        raw = call.args.strip() or "5"
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_SLACK_HISTORY:
            raise InvalidInput(f"Usage: `/go-history [n]` with n from 1 to {MAX_SLACK_HISTORY}.")
        return views.history_message(self._services.sessions.history(int(raw), call.channel))

    def _reset(self, call: Invocation) -> Blocks:
        checklist = self._services.playbook.reset(call.user, call.channel)
        return views.text_message(f"Playbook reset: {checklist.completed}/{checklist.total} done.")


def _change_message(change: SessionChange, done: str, posted: str, undelivered: str) -> Blocks:
    problem = change.delivery.problem
    if change.delivery.pending:
        return views.text_message(
            f":hourglass: {done}; Slack has not taken the message yet: it will be retried until "
            "it has."
        )
    if problem is None:
        return views.text_message(f":white_check_mark: {done}; {posted}.")
    if problem in ("not_in_channel", "channel_not_found"):
        hint = "Invite the bot to this channel with `/invite @gobot` and try again."
    else:
        hint = "The session itself is saved."
    return views.text_message(f":warning: {undelivered}: `{safe(problem, 200)}`. {hint}")
