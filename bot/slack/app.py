"""The Bolt listeners: every slash command and button of the command table (on a message or
on App Home), the start and end forms (opened by `/go-start` or `/go-end` with no text, and
by every End session button), the message shortcut and pin reaction, and App Home itself.

Bolt runs each listener inline (`process_before_response`), and a listener only acks and
hands the interaction to gobot's own pool, in order per channel: the ack goes back to Slack at
once, and slow work (a snapshot waits up to GOBOT_SOURCE_TIMEOUT) never holds up the acks of
the requests behind it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from slack_bolt import Ack, App, BoltRequest, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack import steps
from bot.slack.blocks import block_texts, form_values, text_message
from bot.slack.catalog import BUTTONS, BY_NAME, SLASH_COMMANDS, SUBCOMMANDS, help_text
from bot.slack.home import publish_home
from bot.slack.interactions import Command, Interactions, Invocation, Reply, parse, user_message
from bot.slack.mrkdwn import safe
from bot.slack.playbook import StepButton
from bot.slack.session import END_MODAL, START_MODAL, end_modal, start_modal
from bot.slack.windows import SCHEDULE_MODAL, schedule_modal
from bot.slack.work import OrderedWork
from bot.slack.workspace import ADD_MESSAGE_SHORTCUT, message_at, source_of
from core.delivery import DeliveryService
from core.errors import GoError, InvalidInput
from core.notes import clean_link, clean_notes
from core.services import Services

log = logging.getLogger("gobot.app")


def _fallback(blocks: list[dict[str, Any]]) -> str:
    """Notification text: the first section's (already escaped) text."""
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            return str(text.get("text", ""))[:300]
    return "gobot"


def _answer(respond: Respond, reply: Reply) -> None:
    if reply.blocks:
        respond(
            blocks=reply.blocks,
            text=_fallback(reply.blocks),
            response_type="ephemeral",
            replace_original=False,
        )


def _signature(request: BoltRequest) -> str | None:
    """The request's Slack signature (none in Socket Mode, where nothing is signed)."""
    values = request.headers.get("x-slack-signature") or []
    return str(values[0]) if values else None


FORMS = {
    START_MODAL: BY_NAME["start-form"],
    END_MODAL: BY_NAME["end-form"],
    SCHEDULE_MODAL: BY_NAME["schedule-form"],
}
FORM_OF = {
    "start": BY_NAME["start-form"],
    "end": BY_NAME["end-form"],
    "schedule": BY_NAME["schedule-form"],
}


def _form_view(sub: str, channel: str | None, services: Services) -> dict[str, Any]:
    """The form a slash command with no text opens; raises GoError if it cannot be used now
    (no form to start beside an active session, or to end none)."""
    if sub == "end":
        services.sessions.ensure_can_end(channel)
        return end_modal(channel)
    if sub == "start":
        services.sessions.ensure_can_start(channel)
        return start_modal(channel)
    return schedule_modal(channel, int(services.clock.now().timestamp()))


def _open(client: WebClient, trigger: str, view: dict[str, Any], respond: Respond) -> None:
    try:
        client.views_open(trigger_id=trigger, view=view)
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("could not open a modal: %s", exc)
        respond(
            text="Slack did not open the form in time: type the notes after the command "
            "(e.g. `/go-start deploy v2`), or try again.",
            response_type="ephemeral",
        )


def _check_form(callback_id: str, form: dict[str, str]) -> dict[str, str]:
    """Errors to show beside the modal's fields, by block id (none: it may be submitted)."""
    errors: dict[str, str] = {}
    try:
        clean_notes(form.get("notes"))
    except InvalidInput as exc:
        errors["notes"] = exc.message[:150]
    if callback_id in (START_MODAL, SCHEDULE_MODAL):
        try:
            clean_link(form.get("link"))
        except InvalidInput as exc:
            errors["link"] = exc.message[:150]
    return errors


def _deliver_woken(delivery: DeliveryService, channel: str) -> None:
    woken = delivery.wake(channel)
    if woken:
        log.info("the bot joined %s: delivering the %d messages that waited for it", channel, woken)


def _register_message_actions(
    app: App, interactions: Interactions, work: OrderedWork, pin_emoji: str
) -> None:
    """The message shortcut and the pin reaction: both add a message to the timeline."""
    add_message = BY_NAME["add-message"]

    @app.message_shortcut(ADD_MESSAGE_SHORTCUT)
    def on_shortcut(
        ack: Ack, body: dict[str, Any], respond: Respond, request: BoltRequest, client: WebClient
    ) -> None:
        ack()
        received = time.monotonic()
        channel = str((body.get("channel") or {}).get("id", ""))
        user = str((body.get("user") or {}).get("id", ""))
        message = body.get("message") or {}

        def run() -> None:
            source = source_of(client, channel, message)
            call = Invocation(
                user, channel, "", body.get("response_url"), _signature(request), source=source
            )
            _answer(respond, interactions.run(add_message, call, received))

        work.submit(channel, run)

    @app.event("reaction_added")
    def on_reaction(
        ack: Ack, event: dict[str, Any], request: BoltRequest, client: WebClient
    ) -> None:
        """The pin reaction adds the message; nobody is answered (there is no one to answer
        privately): what it did shows in the thread, a refusal only in the log."""
        ack()
        received = time.monotonic()
        item = event.get("item") or {}
        if event.get("reaction") != pin_emoji or item.get("type") != "message":
            return
        channel, ts = str(item.get("channel", "")), str(item.get("ts", ""))
        user = str(event.get("user", ""))

        def run() -> None:
            if not interactions.may(user, add_message):
                log.info("a pin by %s, who may not add to timelines, was ignored", user)
                return
            message = message_at(client, channel, ts)
            if message is None:
                return
            source = source_of(client, channel, message)
            call = Invocation(user, channel, "", None, _signature(request), source=source)
            interactions.run(add_message, call, received)

        work.submit(channel, run)


def _register_forms(app: App, interactions: Interactions, work: OrderedWork) -> None:
    def on_form(ack: Ack, body: dict[str, Any], request: BoltRequest, client: WebClient) -> None:
        """A submitted modal: checked beside its fields first (nothing started), then run in
        the channel's queue; the answer comes as an ephemeral message in that channel."""
        received = time.monotonic()
        view = body.get("view") or {}
        callback_id = str(view.get("callback_id", ""))
        form = form_values(view)
        errors = _check_form(callback_id, form)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        # "<channel>" or, from a button, "<channel> <the session or window it is about>"
        where, _, about = str(view.get("private_metadata", "")).partition(" ")
        channel = where or None
        user = str((body.get("user") or {}).get("id", ""))
        command = FORMS[callback_id]
        call = Invocation(user, channel, about, None, _signature(request), form=form)

        def run() -> None:
            reply = interactions.run(command, call, received)
            if reply.blocks and channel:
                client.chat_postEphemeral(
                    channel=channel, user=user, blocks=reply.blocks, text=_fallback(reply.blocks)
                )

        work.submit(str(channel or ""), run)

    for callback_id in FORMS:
        app.view(callback_id)(on_form)


def _register_commands(
    app: App, interactions: Interactions, services: Services, work: OrderedWork
) -> None:
    def on_command(
        ack: Ack,
        command: dict[str, Any],
        respond: Respond,
        request: BoltRequest,
        client: WebClient,
    ) -> None:
        """`/go-start`, `/go-end` and `/go-schedule` with no text open their form at once (a
        trigger_id lives 3 s), apart from the channel's queue, if it can be used now;
        everything else runs in the channel's queue."""
        ack()
        received = time.monotonic()
        channel = command.get("channel_id")
        user = str(command.get("user_id", ""))
        name = str(command.get("command", "/go"))
        call = Invocation(
            user,
            channel,
            str(command.get("text", "")),
            command.get("response_url"),
            _signature(request),
        )
        sub, text = parse(name, call.args)

        def run() -> None:
            found = SUBCOMMANDS.get(sub)
            if found is None:
                unknown = text_message(
                    f":warning: Unknown subcommand `{safe(sub, 40)}`.\n{help_text()}"
                )
                _answer(
                    respond,
                    interactions.tell(
                        Reply("unknown", unknown, "unknown_subcommand"), call, received
                    ),
                )
                return
            _answer(respond, interactions.run(found, replace(call, args=text), received))

        def open_form() -> None:
            try:
                view = _form_view(sub, channel, services)
            except GoError as exc:
                _answer(respond, Reply(sub, text_message(user_message(exc)), exc.code))
                return
            _open(client, str(trigger), view, respond)

        form = FORM_OF.get(sub)
        trigger = command.get("trigger_id")
        if form is not None and not text and trigger and interactions.may(user, form):
            work.submit(f"modal:{user}", open_form)
            return
        work.submit(str(channel or ""), run)

    for name in SLASH_COMMANDS:
        app.command(name)(on_command)


BUTTON_FORMS = (BY_NAME["end-button"], BY_NAME["window-move"])


def _button_form(
    command: Command, channel: str | None, value: str, services: Services
) -> dict[str, Any] | None:
    """The form a button opens, or None if what it is about is over."""
    if command is BY_NAME["end-button"]:
        session = services.sessions.get(channel)
        if not (session.active and session.id == value):
            return None
        return end_modal(channel, session, services.playbook.steps)
    try:
        window = services.windows.scheduled(value)
    except GoError:
        return None
    return schedule_modal(channel, int(services.clock.now().timestamp()), window)


def _register_buttons(
    app: App, interactions: Interactions, services: Services, work: OrderedWork
) -> None:
    def on_button(
        ack: Ack, body: dict[str, Any], respond: Respond, request: BoltRequest, client: WebClient
    ) -> None:
        """A button on a message answers its clicker there; one on App Home (only a step's)
        answers by publishing the page again, with what there is to say on top."""
        ack()
        received = time.monotonic()
        action = (body.get("actions") or [{}])[0]
        command, extra = BUTTONS[str(action.get("action_id"))]
        value = str(action.get("value", ""))
        on_home = (body.get("view") or {}).get("type") == "home"
        channel = (
            StepButton.parse(value).channel if on_home else (body.get("channel") or {}).get("id")
        )
        user = str((body.get("user") or {}).get("id", ""))
        args = " ".join(part for part in (extra, value) if part)
        call = Invocation(user, channel, args, body.get("response_url"), _signature(request))
        trigger = body.get("trigger_id")

        def run() -> None:
            reply = interactions.run(command, call, received)
            if on_home:
                notice = "\n".join(block_texts(reply.blocks or [])) or None
                publish_home(services, client, user, notice)
            else:
                _answer(respond, reply)

        def open_form() -> None:
            """End session opens the end form for its own session, Move the schedule form for
            its window; a button of a session or window that is over is answered as any other
            button."""
            view = _button_form(command, channel, value, services)
            if view is None:
                work.submit(str(channel or ""), run)
                return
            _open(client, str(trigger), view, respond)

        if command in BUTTON_FORMS and trigger and interactions.may(user, command):
            work.submit(f"modal:{user}", open_form)  # apart from the channel: the trigger lives 3 s
            return
        work.submit(str(channel or ""), run)

    for action_id in BUTTONS:
        app.action(action_id)(on_button)


def register(
    app: App, interactions: Interactions, services: Services, work: OrderedWork, pin_emoji: str
) -> None:
    """`pin_emoji`: the reaction that adds a message to the session's timeline."""
    _register_message_actions(app, interactions, work, pin_emoji)
    _register_forms(app, interactions, work)
    _register_commands(app, interactions, services, work)
    _register_buttons(app, interactions, services, work)
    steps.register(app, interactions, services, work)

    @app.event("app_home_opened")
    def on_home_opened(ack: Ack, event: dict[str, Any], client: WebClient) -> None:
        ack()
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        user = str(event["user"])
        work.submit(f"home:{user}", lambda: publish_home(services, client, user))

    @app.event("member_joined_channel")
    def on_member_joined(ack: Ack, event: dict[str, Any], context: dict[str, Any]) -> None:
        """The bot was invited: what waited for it in that channel is delivered now."""
        ack()
        channel = str(event.get("channel", ""))
        if not channel or event.get("user") != context.get("bot_user_id"):
            return
        delivery = services.delivery
        if delivery is not None:
            work.submit(channel, lambda: _deliver_woken(delivery, channel))

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        user_message(error)
