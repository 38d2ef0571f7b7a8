"""The bot invited into a channel (`member_joined_channel` naming the bot itself): the
messages that waited for it there are delivered now."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.slack.capability import Command, Event, EventContext, Invocation, Nothing
from core.services import Services

log = logging.getLogger("gobot.delivery")


def _joined(event: Mapping[str, Any], context: EventContext) -> Invocation | None:
    channel = str(event.get("channel", ""))
    if not channel or event.get("user") != context.bot_user:
        return None  # someone else joined: not gobot's business
    return Invocation(str(event.get("user")), channel)


def _deliver_woken(services: Services, call: Invocation, given: Nothing) -> None:
    if services.delivery is None or not call.channel:
        return
    woken = services.delivery.wake(call.channel)
    if woken:
        log.info(
            "the bot joined %s: delivering the %d messages that waited for it", call.channel, woken
        )


COMMANDS: tuple[Command, ...] = (
    Command(
        "joined",
        "Invited",
        "deliver what waited for the bot in a channel it was invited to",
        _deliver_woken,
        input=Nothing,
        events=(Event("member_joined_channel", _joined),),
    ),
)
