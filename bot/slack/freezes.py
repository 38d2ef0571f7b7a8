"""Change freezes in Slack: `/go-freeze` (with text, or its form), a freeze's Move (its form)
and Cancel buttons (the list is `/go-windows`, drawn by `bot.slack.window_views`), and what
`/go-start` needs while a freeze holds: `--override <reason>` and the form's override field,
for admins only, and the line on the snapshot post of a session started under an override."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    PlainTextInputElement,
)

from bot.slack.blocks import Blocks, context, modal, text_message
from bot.slack.capability import (
    Arguments,
    Command,
    FormInput,
    Invocation,
    OpenForm,
    Place,
)
from bot.slack.mrkdwn import channel, date, safe, who
from bot.slack.window_views import (
    FREEZE_CANCEL_ACTION,
    FREEZE_MOVE_ACTION,
    WindowButton,
    channel_input,
    form_clash,
    form_start,
    own_label,
    planned_text,
    when_input,
)
from core.durations import format_duration, parse_duration
from core.errors import InvalidInput, PermissionDenied, UnknownWindow
from core.models import GoSession, GoWindow
from core.services import Services

FREEZE_MODAL = "go_freeze_modal"
FREEZE_USAGE = (
    "Usage: `/go-freeze` (a form), or `/go-freeze 2026-12-20T00:00Z 14d year-end freeze` "
    "(when, for how long, why)."
)
DURATION_HINT = "e.g. 12h, 3d or 14d (at most 31d)"
OVERRIDE = re.compile(r"(?:^|\s)--override(?:\s+|$)")
OVERRIDE_USAGE = "Say why you override the change freeze: `/go-start --override <reason>`."


# the start under a freeze ---------------------------------------------------------------------
class StartText(Arguments):
    """`/go-start [notes] [--override <reason>]`."""

    notes: str = ""
    override: str | None = None

    @classmethod
    def parse(cls, text: str) -> dict[str, Any]:
        found = OVERRIDE.search(text)
        if found is None:
            return {"notes": text.strip()}
        reason = text[found.end() :].strip()
        if not reason:
            raise InvalidInput(OVERRIDE_USAGE)
        return {"notes": text[: found.start()].strip(), "override": reason}


def may_override(call: Invocation, doing: str = "override a change freeze") -> None:
    """Refuse (audited, as every refusal) unless the caller is a gobot admin."""
    if call.access is None:
        raise PermissionDenied(f"Only gobot admins may {doing}.")
    call.access.check(call.user, "admin", doing, call.channel)


def _may_change(services: Services, call: Invocation, freeze: GoWindow) -> None:
    """A freeze that holds already is ended or moved only by an admin, as it is overridden."""
    if freeze.starts_at_utc <= services.clock.now():
        may_override(call, "end or move a change freeze in force")


def override_blocks(freeze: GoWindow) -> list[Block]:
    """The start form's part while `freeze` holds: which freeze, and the reason it needs."""
    return [
        context(
            f":snowflake: Change freeze `{freeze.id}` holds until {date(freeze.ends_at_utc)}: "
            f"{safe(freeze.notes, 500)}. Starting overrides it."
        ),
        InputBlock(
            block_id="override",
            label="Override reason",
            hint="Why this cannot wait; recorded, audited and shown on the post.",
            element=PlainTextInputElement(action_id="override", max_length=500),
        ),
    ]


def override_line(session: GoSession) -> str | None:
    """The snapshot post's line for a session started under an override, or None."""
    held = session.freeze_override
    if held is None:
        return None
    return (
        f":snowflake: Started during change freeze `{held.freeze_id}` by {who(held.by)}: "
        f"{safe(held.reason, 500)}"
    )


# planning a freeze ----------------------------------------------------------------------------
def freeze_modal(
    channel_id: str | None, now_epoch: int, freeze: GoWindow | None = None, *, home: bool = False
) -> dict[str, Any]:
    """`/go-freeze`: when (in the user's own time zone), how long, channel and reason; moving
    `freeze`: when and how long only, as the freeze has them."""
    start = int(freeze.starts_at_utc.timestamp()) if freeze else now_epoch + 3600
    blocks: list[Block] = [
        when_input("From", start),
        InputBlock(
            block_id="duration",
            label="For how long",
            element=PlainTextInputElement(
                action_id="duration",
                placeholder=DURATION_HINT,
                initial_value=own_label(freeze) if freeze else None,
            ),
        ),
    ]
    if freeze is None:
        blocks += [
            channel_input(channel_id),
            InputBlock(
                block_id="reason",
                label="Reason",
                element=PlainTextInputElement(action_id="reason", multiline=True, max_length=2000),
            ),
        ]
    metadata = Place(channel=channel_id, about=freeze.id if freeze else None, home=home or None)
    title = "Move the change freeze" if freeze else "Plan a change freeze"
    return modal(FREEZE_MODAL, title, "Move" if freeze else "Plan", metadata.value(), blocks)


def _planned(freeze: GoWindow, what: str) -> Blocks:
    length = format_duration(timedelta(seconds=freeze.duration_seconds))
    return text_message(
        f":snowflake: Change freeze {what}: {date(freeze.starts_at_utc)} for {length} in "
        f"{channel(freeze.channel)}. While it holds no GO session starts without an admin's "
        "override; `/go-windows` lists it."
    )


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError:
        raise InvalidInput(f"Say for how long the change freeze holds: {DURATION_HINT}.") from None


class Freeze(Arguments):
    """`/go-freeze WHEN DURATION REASON`, WHEN in ISO 8601 (UTC unless it says otherwise);
    nothing at all when the form is wanted."""

    starts_at: datetime | None = None
    duration: timedelta | None = None
    reason: str = ""

    @classmethod
    def parse(cls, text: str) -> dict[str, Any]:
        if not text.strip():
            return {}
        starts_at, duration, reason = planned_text(text, FREEZE_USAGE)
        if not reason.strip():
            raise InvalidInput(FREEZE_USAGE)
        return {"starts_at": starts_at, "duration": _duration(duration), "reason": reason}


class FreezeForm(FormInput):
    """The freeze form: `place.about` is the freeze being moved (none: a new one)."""

    when: str = ""
    duration: str = ""
    channel: str = ""
    reason: str = ""


def _freeze(services: Services, call: Invocation, given: Freeze) -> Blocks | OpenForm:
    """A freeze from the command's text; with no text and a trigger, the freeze form."""
    if given.starts_at is None or given.duration is None:
        if not call.trigger:
            raise InvalidInput(FREEZE_USAGE)
        return OpenForm(freeze_modal(call.channel, int(services.clock.now().timestamp())))
    freeze = services.windows.schedule_freeze(
        call.user, call.channel, given.starts_at, given.duration, given.reason
    )
    return _planned(freeze, "planned")


def _freeze_form(services: Services, call: Invocation, form: FreezeForm) -> Blocks:
    """The freeze form, submitted: a new freeze, or the one being moved."""
    starts_at = form_start(form.when, "change freeze")
    duration = _duration(form.duration)
    if form.place.about:
        _may_change(services, call, services.windows.scheduled(form.place.about))
        moved = services.windows.move(call.user, form.place.about, starts_at, duration)
        return _planned(moved, "moved")
    freeze = services.windows.schedule_freeze(
        call.user, form.channel or call.channel, starts_at, duration, form.reason
    )
    return _planned(freeze, "planned")


def _freeze_clash(services: Services, form: Mapping[str, str], place: Place) -> dict[str, str]:
    """The freeze form's overlap with a planned window or freeze, beside its From."""
    return form_clash(
        services, form, place, lambda _moving: parse_duration(form.get("duration", ""))
    )


def _scheduled_freeze(services: Services, call: Invocation, button: WindowButton) -> GoWindow:
    freeze = services.windows.scheduled(button.window_id, call.channel)
    if freeze.kind != "freeze":
        raise UnknownWindow(f"There is no change freeze {button.window_id!r}.")
    return freeze


def _freeze_move(services: Services, call: Invocation, button: WindowButton) -> Blocks | OpenForm:
    """Move: the freeze form for the freeze while it is still scheduled; where no form can be
    opened (no trigger), how to move it by hand."""
    freeze = _scheduled_freeze(services, call, button)
    _may_change(services, call, freeze)
    if call.trigger:
        now = int(services.clock.now().timestamp())
        return OpenForm(freeze_modal(call.channel, now, freeze, home=call.home))
    return text_message(
        f"Cancel this change freeze and plan it again with `/go-freeze`: it starts "
        f"{date(freeze.starts_at_utc)}."
    )


def _freeze_cancel(services: Services, call: Invocation, button: WindowButton) -> Blocks:
    freeze = _scheduled_freeze(services, call, button)
    _may_change(services, call, freeze)
    cancelled = services.windows.cancel(call.user, freeze.id, channel=call.channel)
    return text_message(
        f":wastebasket: The change freeze of {date(cancelled.starts_at_utc)} is cancelled."
    )


COMMANDS: tuple[Command, ...] = (
    Command(
        "freeze",
        "freeze [when duration reason]",
        "plan a change freeze (a form, or e.g. 2026-12-20T00:00Z 14d year-end)",
        _freeze,
        "operator",
        "plan change freezes",
        "Not planned",
        limited=True,
        input=Freeze,
        slash="own",
        opens=FREEZE_MODAL,
    ),
    Command(
        "freeze-form",
        "Plan a change freeze",
        "plan or move a change freeze from its form",
        _freeze_form,
        "operator",
        "plan change freezes",
        "Not planned",
        limited=True,
        input=FreezeForm,
        callback_id=FREEZE_MODAL,
        check=_freeze_clash,
    ),
    Command(
        "freeze-move",
        "Move",
        "move the change freeze the button belongs to (a form)",
        _freeze_move,
        "operator",
        "plan change freezes",
        "Not moved",
        limited=True,
        input=WindowButton,
        actions=(FREEZE_MOVE_ACTION,),
        opens=FREEZE_MODAL,
    ),
    Command(
        "freeze-cancel",
        "Cancel",
        "cancel the change freeze the button belongs to",
        _freeze_cancel,
        "operator",
        "plan change freezes",
        "Not cancelled",
        limited=True,
        input=WindowButton,
        actions=(FREEZE_CANCEL_ACTION,),
    ),
)
