"""Reminders of an open session: the reminder and health-watch messages in its thread, and
the Snooze buttons (on the session's post and its reminders) that move the next reminder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

from bot.reports import drift_text
from bot.slack.blocks import STATUS_ICON, Blocks, section, text_message, to_dicts
from bot.slack.capability import Command, Invocation, SessionButton
from bot.slack.mrkdwn import date, safe, who
from bot.slack.playbook import playbook_progress
from bot.slack.session_views import SNOOZE_ACTIONS, session_actions
from core.durations import format_duration, parse_duration
from core.models import PlaybookStep
from core.outbox import DriftPayload, ReminderPayload
from core.services import Services


def _reminder_state(reminder: ReminderPayload, mark: str = "") -> str:
    """How the session stands against its planned end (to the minute), or how long it has
    been open if it has none; `mark` wraps the figure (`*` for bold)."""
    elapsed = format_duration(timedelta(seconds=reminder.elapsed_seconds))
    ahead = reminder.to_planned_end_seconds
    if ahead is None:
        return f"this GO session has been open for {mark}{elapsed}{mark}"
    minutes = format_duration(timedelta(minutes=round(abs(ahead) / 60)))
    if ahead > 0:
        return f"this GO session is due to end in {mark}{minutes}{mark} (open for {elapsed})"
    if minutes == "0s":
        return f"this GO session has reached its planned end (open for {elapsed})"
    return f"this GO session has overrun its planned end by {mark}{minutes}{mark}"


def reminder_message(
    reminder: ReminderPayload, steps: Sequence[PlaybookStep]
) -> list[dict[str, Any]]:
    """A reminder in the snapshot's thread: who, how long (or how it stands against its
    planned end), drift since the start, the playbook's progress."""
    session = reminder.session
    lead = ":rotating_light: *Escalation:* " if reminder.escalate else ":alarm_clock: "
    text = (
        f"{lead}{who(session.current_owner)}, {_reminder_state(reminder, '*')} "
        f"(reminder {reminder.number}).\n*Since the start:* "
        + safe(drift_text(session.cone_band, session.status, reminder.band, reminder.status))
        + "\n"
        + playbook_progress(session, steps)
    )
    return to_dicts([section(text), session_actions(session, "go_reminder_actions")])


def reminder_text(reminder: ReminderPayload) -> str:
    owner = who(reminder.session.current_owner)
    state = _reminder_state(reminder)
    return f"{state[0].upper()}{state[1:]}: {owner}, end it or snooze"


def drift_message(drift: DriftPayload) -> list[dict[str, Any]]:
    """Health or band changed while the session is open."""
    change = safe(drift_text(drift.from_band, drift.from_status, drift.to_band, drift.to_status))
    icon = STATUS_ICON[drift.to_status]
    reasons = "\n".join(f"• {safe(reason, 500)}" for reason in drift.reasons[:20])
    text = f"{icon} *Health watch:* {change}" + (f"\n{reasons}" if reasons else "")
    return to_dicts([section(text)])


class Snooze(SessionButton):
    """A Snooze button: the session of its value, and how long by which button it is."""

    duration: Literal["30m", "1h", "2h"]

    @classmethod
    def raw(cls, call: Invocation) -> object:
        button = SessionButton.model_validate(call.value or "")
        return {**button.model_dump(), "duration": SNOOZE_ACTIONS.get(call.action or "")}


def _snooze_button(services: Services, call: Invocation, snooze: Snooze) -> Blocks:
    scope = services.sessions.scope_for(call.channel)
    snoozed = services.reminders.snooze(
        scope, snooze.session_id, call.user, parse_duration(snooze.duration)
    )
    return text_message(
        f":zzz: Reminders snoozed for {snooze.duration}: the next one is due at "
        f"{date(snoozed.reminder.next_due_utc)}."
    )


COMMANDS: tuple[Command, ...] = (
    Command(
        "snooze",
        "Snooze 30m / 1h / 2h",
        "move the session's next reminder",
        _snooze_button,
        "operator",
        "snooze reminders",
        "Not snoozed",
        limited=True,
        input=Snooze,
        actions=tuple(SNOOZE_ACTIONS),
    ),
)
