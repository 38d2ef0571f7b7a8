"""Planned GO windows: `/go-schedule` (with text, or its form), `/go-windows` (windows and
freezes), and a window's Start now, Move (its form) and Cancel buttons; how they look is in
`bot.slack.window_views`, freezes' own commands in `bot.slack.freezes`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.slack.blocks import Blocks, planned_duration, text_message
from bot.slack.capability import (
    Arguments,
    Command,
    FormInput,
    Invocation,
    OpenForm,
    Place,
    Text,
)
from bot.slack.mrkdwn import channel, date
from bot.slack.session import started_message
from bot.slack.window_views import (
    SCHEDULE_MODAL,
    WINDOW_CANCEL_ACTION,
    WINDOW_MOVE_ACTION,
    WINDOW_START_ACTION,
    WindowButton,
    form_clash,
    form_start,
    own_label,
    planned_text,
    schedule_modal,
    windows_message,
)
from core.durations import format_duration
from core.errors import InvalidInput
from core.models import GoWindow
from core.services import Services


def _window_planned(window: GoWindow, what: str) -> Blocks:
    length = format_duration(timedelta(seconds=window.duration_seconds))
    return text_message(
        f":calendar: GO window {what}: {date(window.starts_at_utc)} for {length} in "
        f"{channel(window.channel)}. Its channel is reminded before it; `/go-windows` lists it."
    )


class ScheduleForm(FormInput):
    """The schedule form: `place.about` is the window being moved (none: a new one)."""

    when: str = ""
    planned: str = ""
    channel: str = ""
    notes: str = ""
    link: str = ""


SCHEDULE_USAGE = "Usage: `/go-schedule` (a form), or `/go-schedule 2026-12-01T14:00Z 1h [notes]`."


class Schedule(Arguments):
    """`/go-schedule WHEN DURATION [notes]`, WHEN in ISO 8601 (UTC unless it says otherwise);
    nothing at all when the form is wanted."""

    starts_at: datetime | None = None
    duration: timedelta | None = None
    notes: str = ""

    @classmethod
    def parse(cls, text: str) -> dict[str, Any]:
        if not text.strip():
            return {}
        starts_at, duration, notes = planned_text(text, SCHEDULE_USAGE)
        return {"starts_at": starts_at, "duration": planned_duration(duration), "notes": notes}


def _schedule(services: Services, call: Invocation, given: Schedule) -> Blocks | OpenForm:
    """A window from the command's text; with no text and a trigger, the schedule form."""
    if given.starts_at is None or given.duration is None:
        if not call.trigger:
            raise InvalidInput(SCHEDULE_USAGE)
        return OpenForm(schedule_modal(call.channel, int(services.clock.now().timestamp())))
    window = services.windows.schedule(
        call.user, call.channel, given.starts_at, given.duration, notes=given.notes
    )
    return _window_planned(window, "planned")


def _schedule_form(services: Services, call: Invocation, form: ScheduleForm) -> Blocks:
    """The schedule modal, submitted: a new window, or the one being moved."""
    starts_at = form_start(form.when, "GO window")
    if form.place.about:
        window = services.windows.scheduled(form.place.about)
        duration = _form_duration(form.planned, window)
        return _window_planned(
            services.windows.move(call.user, window.id, starts_at, duration), "moved"
        )
    duration = planned_duration(form.planned)
    window = services.windows.schedule(
        call.user,
        form.channel or call.channel,
        starts_at,
        duration,
        notes=form.notes,
        link=form.link,
    )
    return _window_planned(window, "planned")


def _form_duration(planned: str, window: GoWindow | None) -> timedelta:
    """The form's planned duration: one it offers, or (moving `window`) the window's own."""
    if window is not None and planned == own_label(window):
        return timedelta(seconds=window.duration_seconds)
    return planned_duration(planned)


def _schedule_clash(services: Services, form: Mapping[str, str], place: Place) -> dict[str, str]:
    """The schedule form's overlap with another planned window, beside its When."""
    return form_clash(
        services, form, place, lambda moving: _form_duration(form.get("planned", ""), moving)
    )


def _windows(services: Services, call: Invocation, given: Text) -> Blocks:
    now = services.clock.now()
    return windows_message(services.windows.upcoming(call.channel), now)  # of its scope


def _window_start(services: Services, call: Invocation, button: WindowButton) -> Blocks:
    """Start now: the window's session, with its notes, link and planned duration."""
    return started_message(
        services.windows.start(call.user, button.window_id, call.reply_to, channel=call.channel)
    )


def _window_move(services: Services, call: Invocation, button: WindowButton) -> Blocks | OpenForm:
    """Move: the schedule form for the window while it is still scheduled; where no form
    can be opened (no trigger), how to move it by hand."""
    window = services.windows.scheduled(button.window_id, call.channel)
    if call.trigger:
        now = int(services.clock.now().timestamp())
        return OpenForm(schedule_modal(call.channel, now, window, home=call.home))
    return text_message(
        f"Cancel this window and plan it again with `/go-schedule`: it starts "
        f"{date(window.starts_at_utc)}."
    )


def _window_cancel(services: Services, call: Invocation, button: WindowButton) -> Blocks:
    window = services.windows.cancel(call.user, button.window_id, channel=call.channel)
    return text_message(
        f":wastebasket: The GO window of {date(window.starts_at_utc)} is cancelled."
    )


COMMANDS: tuple[Command, ...] = (
    Command(
        "schedule",
        "schedule [when duration notes]",
        "plan a GO window (a form, or e.g. 2026-12-01T14:00Z 1h deploy)",
        _schedule,
        "operator",
        "plan GO windows",
        "Not planned",
        limited=True,
        input=Schedule,
        slash="own",
        opens=SCHEDULE_MODAL,
    ),
    Command("windows", "windows", "list the planned GO windows", _windows, slash="own"),
    Command(
        "schedule-form",
        "Plan a GO window",
        "plan or move a GO window from its form",
        _schedule_form,
        "operator",
        "plan GO windows",
        "Not planned",
        limited=True,
        input=ScheduleForm,
        callback_id=SCHEDULE_MODAL,
        check=_schedule_clash,
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
        input=WindowButton,
        actions=(WINDOW_START_ACTION,),
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
        input=WindowButton,
        actions=(WINDOW_MOVE_ACTION,),
        opens=SCHEDULE_MODAL,
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
        input=WindowButton,
        actions=(WINDOW_CANCEL_ACTION,),
    ),
)
