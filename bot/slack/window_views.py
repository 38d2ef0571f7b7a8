"""How planned GO windows and change freezes look in Slack: a window's reminder, prompt and
missed messages, the list of windows and freezes (`/go-windows`, App Home, the weekly digest)
with their buttons (a window's Start now, Move and Cancel; a freeze's Move and Cancel), the
schedule form, and what the schedule and freeze commands and forms share in reading their input."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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

from bot.slack.blocks import PLANNED, context, header, modal, notes_input, section, to_dicts
from bot.slack.capability import Button, Place
from bot.slack.mrkdwn import CHANNEL_ID, channel, date, plain, safe, who
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
FREEZE_MOVE_ACTION = "go_freeze_move"
FREEZE_CANCEL_ACTION = "go_freeze_cancel"
MAX_LISTED_WINDOWS = 15


# planned windows and the weekly digest ------------------------------------------------------
def span(window: GoWindow) -> str:
    length = format_duration(timedelta(seconds=window.duration_seconds))
    return f"{date(window.starts_at_utc)} for {length}"


def window_details(window: GoWindow) -> str:
    """Where, by whom, and its notes and link (a freeze's notes are its reason)."""
    lines = [f"in {channel(window.channel)}, scheduled by {who(window.scheduled_by)}"]
    if window.notes:
        label = "Reason" if window.kind == "freeze" else "Notes"
        lines.append(f"*{label}:* {safe(window.notes, 1000)}")
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


def _freeze_buttons(freeze: GoWindow) -> ActionsBlock:
    """A freeze's Move and Cancel."""
    where = freeze.channel if CHANNEL_ID.fullmatch(freeze.channel) else None
    value = WindowButton(window_id=freeze.id, channel=where).value()
    cancel = ConfirmObject(
        title="Cancel the change freeze?",
        text=PlainTextObject(text="Changes are no longer held by it."),
        confirm="Cancel it",
        deny="Keep it",
        style="danger",
    )
    return ActionsBlock(
        block_id=f"go_freeze_{freeze.id}",
        elements=[
            ButtonElement(text="Move", action_id=FREEZE_MOVE_ACTION, value=value),
            ButtonElement(
                text="Cancel",
                action_id=FREEZE_CANCEL_ACTION,
                value=value,
                style="danger",
                confirm=cancel,
            ),
        ],
    )


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
    """Upcoming windows and freezes, soonest first, each with its buttons (`manage`: Move and
    Cancel too, a freeze's only with it; Start now asks first for a window that has not
    started by `now`)."""
    if not windows:
        return [
            section(
                "No GO windows planned. Plan one with `/go-schedule` (a change freeze with "
                "`/go-freeze`)."
            )
        ]
    blocks: list[Block] = []
    for window in windows[:MAX_LISTED_WINDOWS]:
        blocks.append(section(listed(window)))
        if window.kind == "freeze":
            blocks += [_freeze_buttons(window)] if manage else []
        else:
            blocks.append(_window_buttons(window, manage=manage, early=now < window.starts_at_utc))
    if len(windows) > MAX_LISTED_WINDOWS:
        blocks.append(context(f"… and {len(windows) - MAX_LISTED_WINDOWS} more: `gobot windows`"))
    return blocks


def listed(window: GoWindow) -> str:
    """One window or freeze in a list: when, for how long, and its details; a freeze marked."""
    mark = ":snowflake: *Change freeze* " if window.kind == "freeze" else ""
    return f"{mark}*{span(window)}* {window_details(window)}"


def windows_message(windows: Sequence[GoWindow], now: datetime) -> list[dict[str, Any]]:
    blocks = window_blocks(windows, manage=True, now=now)
    return to_dicts([header("Planned GO windows and change freezes"), *blocks])


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
        preselect = next((p for p in PLANNED if parse_duration(p) == own), own_label(window))
        if preselect not in labels:  # a window planned by text or the CLI keeps its own
            labels.append(preselect)
    planned_options = [Option(text=label, value=label) for label in labels]
    initial = planned_options[labels.index(preselect)]
    start = int(window.starts_at_utc.timestamp()) if window else now_epoch + 3600
    blocks: list[Block] = [
        when_input("When", start),
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
            channel_input(channel_id),
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


class WindowButton(Button):
    """A window's Start now, Move or Cancel button: the window, and (on App Home, where a
    button comes from no channel) its channel (older buttons: the window's bare id)."""

    window_id: str = Field(min_length=1, max_length=100)
    channel: str | None = Field(default=None, max_length=30, pattern=r"^[A-Z0-9]+$")

    @classmethod
    def legacy(cls, value: str) -> dict[str, Any]:
        return {"window_id": value}


def own_label(window: GoWindow) -> str:
    """The window's own duration as the Move form offers it when it is not a planned one."""
    return format_duration(timedelta(seconds=window.duration_seconds)).replace(" ", "")


def overlap_field_error(other: GoWindow) -> str:
    """The overlap, in the plain text Slack shows beside a form's field."""
    what = "a change freeze" if other.kind == "freeze" else "another GO window"
    return (
        f"That overlaps {what}, {other.starts_at_utc:%Y-%m-%d %H:%M} to "
        f"{other.ends_at_utc:%Y-%m-%d %H:%M} UTC: pick another time, or move or cancel that one."
    )


def when_input(label: str, start: int) -> InputBlock:
    """The date and time a window or freeze starts, picked in the user's own time zone."""
    return InputBlock(
        block_id="when",
        label=label,
        hint="In your own time zone.",
        element=DateTimePickerElement(action_id="when", initial_date_time=start),
    )


def channel_input(channel_id: str | None) -> InputBlock:
    """The channel a window or freeze is planned in: the one the form was opened in, unless
    another is picked."""
    return InputBlock(
        block_id="channel",
        label="Channel",
        element=ConversationSelectElement(
            action_id="channel",
            default_to_current_conversation=True,
            filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
            initial_conversation=channel_id,
        ),
    )


def planned_text(text: str, usage: str) -> tuple[datetime, str, str]:
    """`WHEN DURATION REST` of `/go-schedule` and `/go-freeze`: WHEN (ISO 8601, UTC unless it
    says otherwise), the duration's text and the rest; `usage` when WHEN cannot be read."""
    when, _, rest = text.strip().partition(" ")
    duration, _, more = rest.strip().partition(" ")
    try:
        return parse_utc(when), duration, more
    except (ValueError, OverflowError):
        raise InvalidInput(usage) from None


def form_start(when: str, what: str) -> datetime:
    """A form's date and time picker (epoch seconds), or a line saying to pick one."""
    try:
        return datetime.fromtimestamp(int(when), UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidInput(f"Pick a date and a time for the {what}.") from None


def form_clash(
    services: Services,
    form: Mapping[str, str],
    place: Place,
    duration_of: Callable[[GoWindow | None], timedelta],
) -> dict[str, str]:
    """A window's or freeze's form, checked before it is submitted: its overlap with another
    planned window or freeze, beside its When; `duration_of(moving)` reads the form's duration
    (what cannot be read is left to the submission, which says so)."""
    try:
        starts_at = datetime.fromtimestamp(int(form.get("when", "")), UTC)
        moving = services.windows.scheduled(place.about) if place.about else None
        duration = duration_of(moving)
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
