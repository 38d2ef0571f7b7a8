"""A session's timeline and owner: `/go-note`, `/go-handover`, the Take over button, and
adding a message (its shortcut, or the pin reaction: the message and its permalink are read
from Slack only once the user is authorized); the timeline's one line in the session's
thread."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.reports import SLACK, timeline_line
from bot.slack.blocks import Blocks, section, text_message, to_dicts, unseen
from bot.slack.capability import (
    Arguments,
    Command,
    Event,
    EventContext,
    Invocation,
    Nothing,
    Refusal,
    SessionButton,
    Shortcut,
    Text,
)
from bot.slack.mrkdwn import date, who
from core.errors import InvalidInput
from core.models import TimelineEntry
from core.services import Services
from core.workspace import Source

log = logging.getLogger("gobot.workspace")

TAKE_OVER_ACTION = "go_take_over"
ADD_MESSAGE_SHORTCUT = "go_add_to_session"
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|([UW][A-Z0-9]+)")
TIMELINE_ICONS = {
    "note": ":memo:",
    "message": ":pushpin:",
    "handover": ":arrows_counterclockwise:",
    "gate": ":vertical_traffic_light:",
    "approval": ":ballot_box_with_check:",
}


def timeline_message(entry: TimelineEntry) -> list[dict[str, Any]]:
    """A timeline entry's one line in the session's thread."""
    return to_dicts([section(f"{TIMELINE_ICONS[entry.kind]} {timeline_line(entry, SLACK)}")])


def _note(services: Services, call: Invocation, given: Text) -> Blocks:
    added = services.workspace.note(call.user, call.channel, given.text)
    if not added.newly:
        return text_message(
            f":memo: That note is on the session's timeline already ({date(added.entry.at_utc)})"
            ": it was not added twice."
        )
    return text_message(
        ":memo: Added to the session's timeline." + unseen(added.delivery, "its line")
    )


class Handover(Arguments):
    """`@user [notes]`: the mention as Slack escapes it (`<@U…|name>`), or a bare user ID."""

    to: str
    notes: str = ""

    @classmethod
    def parse(cls, text: str) -> dict[str, Any]:
        target, _, notes = text.strip().partition(" ")
        found = MENTION.fullmatch(target)
        if found is None:
            raise InvalidInput(
                "Usage: `/go-handover @user [notes]`, naming one person "
                "(`/go handover` takes a user ID)."
            )
        return {"to": found.group(1) or found.group(2), "notes": notes}


def _handover(services: Services, call: Invocation, given: Handover) -> Blocks:
    to = given.to
    if call.access is not None and not call.access.permits(to, "operator"):
        raise Refusal(
            f"{who(to)} is not a gobot operator, and only operators can own a GO session: "
            "nothing changed."
        )
    added = services.workspace.handover(call.user, call.channel, to, given.notes)
    return text_message(
        f":arrows_counterclockwise: {who(to)} owns the GO session now."
        + unseen(added.delivery, "its line")
    )


def _take_over_button(services: Services, call: Invocation, button: SessionButton) -> Blocks | None:
    """The clicker becomes the owner of the button's session (never of a newer one)."""
    added = services.workspace.handover(
        call.user, call.channel, call.user, session_id=button.session_id
    )
    if added.delivery.problem is None:
        return None
    return text_message(
        ":arrows_counterclockwise: You own the GO session now." + unseen(added.delivery, "its line")
    )


def _add_message(services: Services, call: Invocation, given: Nothing) -> Blocks:
    """The message shortcut (Slack sends the message) or the pin reaction (only its ts: the
    message is read from Slack, once the user is known to be allowed)."""
    if call.slack is None or not call.channel or call.message is None:
        raise InvalidInput("There is no message to add.")
    services.workspace.ensure_can_add_message(call.channel)  # before anything is read
    message: Mapping[str, Any] | None = call.message
    if "text" not in call.message:
        message = message_at(call.slack, call.channel, str(call.message.get("ts", "")))
    if message is None:
        raise InvalidInput("Slack did not give that message to gobot: nothing was added.")
    source = source_of(call.slack, call.channel, message)
    added = services.workspace.note(call.user, call.channel, source.text, source)
    if not added.newly:
        return text_message("That message is already on the session's timeline.")
    return text_message(
        ":pushpin: Added to the session's timeline." + unseen(added.delivery, "its line")
    )


def permalink(client: WebClient, channel: str, ts: str) -> str | None:
    try:
        return str(client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
    except (SlackApiError, SlackClientError, OSError, KeyError) as exc:
        log.warning("no permalink for %s in %s: %s", ts, channel, exc)
        return None


def message_at(client: WebClient, channel: str, ts: str) -> dict[str, Any] | None:
    """A message by its ts: in the channel, or a reply in a thread."""
    try:
        for in_thread in (False, True):
            answer = (
                client.conversations_replies(  # the thread's first message comes too
                    channel=channel, ts=ts, latest=ts, oldest=ts, inclusive=True, limit=10
                )
                if in_thread
                else client.conversations_history(
                    channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
                )
            )
            found = [m for m in answer.get("messages") or [] if m.get("ts") == ts]
            if found:
                return dict(found[0])
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("could not read message %s in %s: %s", ts, channel, exc)
    return None


def source_of(client: WebClient, channel: str, message: Mapping[str, Any]) -> Source:
    ts = str(message.get("ts", ""))
    author = message.get("user") or message.get("bot_id")
    # Slack sends text with &, < and > as entities: stored as people typed it (escaped on show)
    text = str(message.get("text", "")).replace("&lt;", "<").replace("&gt;", ">")
    return Source.of(
        channel, ts, text.replace("&amp;", "&"), author, permalink(client, channel, ts)
    )


def _pinned(event: Mapping[str, Any], context: EventContext) -> Invocation | None:
    """A reaction with the pin emoji to a message adds it (any other reaction is not gobot's);
    nobody is answered (there is no one to answer privately): what it did shows in the
    thread, a refusal only in the log."""
    item = event.get("item") or {}
    if event.get("reaction") != context.pin_emoji or item.get("type") != "message":
        return None
    channel, ts = str(item.get("channel", "")), str(item.get("ts", ""))
    return Invocation(str(event.get("user", "")), channel, message={"ts": ts})


COMMANDS: tuple[Command, ...] = (
    Command(
        "note",
        "note <text>",
        "add a note to the active session's timeline",
        _note,
        "operator",
        "add notes",
        "Not added",
        limited=True,
        slash="own",
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
        input=Handover,
        slash="own",
        escapes=True,
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
        input=Nothing,
        shortcut=Shortcut(
            ADD_MESSAGE_SHORTCUT, "Add this message to the active GO session's timeline"
        ),
        events=(Event("reaction_added", _pinned),),
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
        input=SessionButton,
        actions=(TAKE_OVER_ACTION,),
    ),
)
