"""Planned GO windows: `/go-schedule` (with text, or its form), `/go-windows`, and a window's
Start now, Move (its form) and Cancel buttons; the window's reminder, prompt and missed
messages, the list of windows (on App Home too, whose buttons name the window's channel and
are answered on the page) and the schedule form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ConversationFilter,
    ConversationSelectElement,
    DateTimePickerElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)

from bot.slack.blocks import (
    PLANNED,
    Blocks,
    context,
    header,
    modal,
    notes_input,
    planned_duration,
    section,
    text_message,
    to_dicts,
)
from bot.slack.capability import (
    Arguments,
    Button,
    Command,
    FormInput,
    Invocation,
    OpenForm,
    Place,
    Text,
)
from bot.slack.mrkdwn import CHANNEL_ID, channel, date, plain, safe, who
from bot.slack.session import started_message
from core.clock import parse_utc
from core.durations import format_duration, parse_duration
from core.errors import GoError, InvalidInput
from core.models import GoWindow
from core.outbox import WindowPayload
from core.services import Services

SCHEDULE_MODAL = "go_schedule_modal"
WINDOW_START_ACTION = "go_window_start"
WINDOW_MOVE_ACTION = "go_window_move"
WINDOW_CANCEL_ACTION = "go_window_cancel"
MAX_LISTED_WINDOWS = 15


# planned windows and the weekly digest ------------------------------------------------------
def span(window: GoWindow) -> str:
    length = format_duration(timedelta(seconds=window.duration_seconds))
    return f"{date(window.starts_at_utc)} for {length}"


def window_details(window: GoWindow) -> str:
    lines = [f"in {channel(window.channel)}, scheduled by {who(window.scheduled_by)}"]
    if window.notes:
        lines.append(f"*Notes:* {safe(window.notes, 1000)}")
    if window.link:
        lines.append(f"*Link:* <{safe(window.link, 500)}|{safe(window.link, 100)}>")
    return "\n".join(lines)


def _window_buttons(window: GoWindow, *, manage: bool, early: bool) -> ActionsBlock:
    """Start now (asking first if `early`: the window has not started) and, in a list, Move
    and Cancel, for one window."""
    where = window.channel if CHANNEL_ID.fullmatch(window.channel) else None  # not a CLI name
    value = WindowButton(window_id=window.id, channel=where).value()
    ask = ConfirmObject(
        title="Start the GO window early?",
        text=PlainTextObject(text=f"It is planned for {plain(span(window))}."),
        confirm="Start now",
        deny="Wait",
    )
    buttons = [
        ButtonElement(
            text="Start now",
            action_id=WINDOW_START_ACTION,
            value=value,
            style="primary",
            confirm=ask if early else None,
        )
    ]
    if manage:
        buttons += [
            ButtonElement(text="Move", action_id=WINDOW_MOVE_ACTION, value=value),
            ButtonElement(
                text="Cancel",
                action_id=WINDOW_CANCEL_ACTION,
                value=value,
                style="danger",
                confirm=ConfirmObject(
                    title="Cancel the GO window?",
                    text=PlainTextObject(text="Nobody will be reminded of it."),
                    confirm="Cancel it",
                    deny="Keep it",
                    style="danger",
                ),
            ),
        ]
    return ActionsBlock(block_id=f"go_window_{window.id}", elements=buttons)


def window_message(payload: WindowPayload) -> list[dict[str, Any]]:
    """A window's reminder before it, prompt at its start (to whoever scheduled it), or note
    that it was missed."""
    window = payload.window
    if payload.what == "missed":
        text = (
            f":warning: The GO window planned for {span(window)} was missed: no GO session "
            "was started in it."
        )
        return to_dicts([section(text), context(window_details(window))])
    if payload.what == "prompt":
        text = (
            f":arrow_forward: {who(window.scheduled_by)}, your GO window starts now "
            f"({span(window)}): start its session?"
        )
    else:
        text = f":calendar: A GO window starts {span(window)}."
    return to_dicts(
        [
            section(text),
            context(window_details(window)),
            _window_buttons(window, manage=False, early=payload.what == "reminder"),
        ]
    )


def window_text(payload: WindowPayload) -> str:
    window = payload.window
    if payload.what == "missed":
        return "A planned GO window was missed"
    if payload.what == "prompt":
        return f"{who(window.scheduled_by)}: your GO window starts now"
    return f"A GO window starts {date(window.starts_at_utc)}"


def window_blocks(windows: Sequence[GoWindow], *, manage: bool, now: datetime) -> list[Block]:
    """Upcoming windows, soonest first, each with its buttons (`manage`: Move and Cancel too;
    Start now asks first for a window that has not started by `now`)."""
    if not windows:
        return [section("No GO windows planned. Plan one with `/go-schedule`.")]
    blocks: list[Block] = []
    for window in windows[:MAX_LISTED_WINDOWS]:
        blocks.append(section(f"*{span(window)}* {window_details(window)}"))
        blocks.append(_window_buttons(window, manage=manage, early=now < window.starts_at_utc))
    if len(windows) > MAX_LISTED_WINDOWS:
        blocks.append(context(f"… and {len(windows) - MAX_LISTED_WINDOWS} more: `gobot windows`"))
    return blocks


def windows_message(windows: Sequence[GoWindow], now: datetime) -> list[dict[str, Any]]:
    return to_dicts([header("Planned GO windows"), *window_blocks(windows, manage=True, now=now)])


def schedule_modal(
    channel_id: str | None, now_epoch: int, window: GoWindow | None = None, *, home: bool = False
) -> dict[str, Any]:
    """`/go-schedule`: when (a date and a time in the user's own time zone), planned duration,
    channel, notes and link. For a window being moved (`window`): when and duration only, each
    as the window has it (a form opened to change one thing keeps the others); `home`: opened
    from App Home, where it is answered."""
    labels = list(PLANNED)
    preselect = labels[1]
    if window is not None:
        own = timedelta(seconds=window.duration_seconds)
        preselect = next((p for p in PLANNED if parse_duration(p) == own), _own_label(window))
        if preselect not in labels:  # a window planned by text or the CLI keeps its own
            labels.append(preselect)
    planned_options = [Option(text=label, value=label) for label in labels]
    initial = planned_options[labels.index(preselect)]
    start = int(window.starts_at_utc.timestamp()) if window else now_epoch + 3600
    blocks: list[Block] = [
        InputBlock(
            block_id="when",
            label="When",
            hint="In your own time zone.",
            element=DateTimePickerElement(action_id="when", initial_date_time=start),
        ),
        InputBlock(
            block_id="planned",
            label="Planned duration",
            element=StaticSelectElement(
                action_id="planned", options=planned_options, initial_option=initial
            ),
        ),
    ]
    if window is None:
        blocks += [
            InputBlock(
                block_id="channel",
                label="Channel",
                element=ConversationSelectElement(
                    action_id="channel",
                    default_to_current_conversation=True,
                    filter=ConversationFilter(
                        include=["public", "private"], exclude_bot_users=True
                    ),
                    initial_conversation=channel_id,
                ),
            ),
            notes_input("Notes"),
            InputBlock(
                block_id="link",
                label="Ticket, change or runbook",
                optional=True,
                element=PlainTextInputElement(action_id="link", placeholder="https://…"),
            ),
        ]
    metadata = Place(
        channel=channel_id, about=window.id if window else None, home=home or None
    ).value()
    title = "Move the GO window" if window else "Plan a GO window"
    return modal(SCHEDULE_MODAL, title, "Move" if window else "Plan", metadata, blocks)


def _window_planned(window: GoWindow, what: str) -> Blocks:
    length = format_duration(timedelta(seconds=window.duration_seconds))
    return text_message(
        f":calendar: GO window {what}: {date(window.starts_at_utc)} for {length} in "
        f"{channel(window.channel)}. Its channel is reminded before it; `/go-windows` lists it."
    )


class WindowButton(Button):
    """A window's Start now, Move or Cancel button: the window, and (on App Home, where a
    button comes from no channel) its channel (older buttons: the window's bare id)."""

    window_id: str = Field(min_length=1, max_length=100)
    channel: str | None = Field(default=None, max_length=30, pattern=r"^[A-Z0-9]+$")

    @classmethod
    def legacy(cls, value: str) -> dict[str, Any]:
        return {"window_id": value}


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
        when, _, rest = text.strip().partition(" ")
        duration, _, notes = rest.strip().partition(" ")
        try:
            starts_at = parse_utc(when)
        except (ValueError, OverflowError):
            raise InvalidInput(SCHEDULE_USAGE) from None
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
    try:
        starts_at = datetime.fromtimestamp(int(form.when), UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidInput("Pick a date and a time for the GO window.") from None
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


def _own_label(window: GoWindow) -> str:
    """The window's own duration as the Move form offers it when it is not a planned one."""
    return format_duration(timedelta(seconds=window.duration_seconds)).replace(" ", "")


def _form_duration(planned: str, window: GoWindow | None) -> timedelta:
    """The form's planned duration: one it offers, or (moving `window`) the window's own."""
    if window is not None and planned == _own_label(window):
        return timedelta(seconds=window.duration_seconds)
    return planned_duration(planned)


def overlap_field_error(other: GoWindow) -> str:
    """The overlap, in the plain text Slack shows beside a form's field."""
    return (
        f"That overlaps another GO window, {other.starts_at_utc:%Y-%m-%d %H:%M} to "
        f"{other.ends_at_utc:%Y-%m-%d %H:%M} UTC: pick another time, or move or cancel that one."
    )


def _schedule_clash(services: Services, form: Mapping[str, str], place: Place) -> dict[str, str]:
    """The schedule form's overlap with another planned window, beside its When (what cannot
    be read is left to the submission, which says so)."""
    try:
        starts_at = datetime.fromtimestamp(int(form.get("when", "")), UTC)
        moving = services.windows.scheduled(place.about) if place.about else None
        duration = _form_duration(form.get("planned", ""), moving)
        channel_id = moving.channel if moving else form.get("channel") or place.channel
        others = services.windows.upcoming(channel_id) if channel_id else []
    except (GoError, ValueError, OverflowError, OSError):
        return {}
    ends_at = starts_at + duration
    for other in others:
        if (moving is None or other.id != moving.id) and (
            other.starts_at_utc < ends_at and starts_at < other.ends_at_utc
        ):
            return {"when": overlap_field_error(other)}
    return {}


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
