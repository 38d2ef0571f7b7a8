"""The Bolt listeners, registered from the capabilities' declarations (`bot.slack.catalog`):
every slash command and `/go` subcommand, button (on a message or on App Home), submitted
form, message shortcut, event and workflow step reaches its capability through
`Interactions.run` (authorize → rate-limit → replay check → typed input → one service call →
render → metric and log line). A form opens when its capability's handler returns one, so
opening a form is authorized like anything else; a submitted form is checked for its user's
role before its fields are checked beside them. `@app.error` answers the user whose
interaction a listener could not hand over.

Bolt runs each listener inline (`process_before_response`), and a listener only acks and
hands the interaction to gobot's own pool, in order per channel: the ack goes back to Slack at
once, and slow work (a snapshot waits up to GOBOT_SOURCE_TIMEOUT) never holds up the acks of
the requests behind it. A form opens apart from the channel's queue (a trigger_id lives 3 s).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack import steps
from bot.slack.blocks import block_texts, form_values, text_message
from bot.slack.capability import FORGED, Button, Command, Event, EventContext, Invocation, Place
from bot.slack.catalog import COMMANDS, SLASH_COMMANDS, SUBCOMMANDS, help_text
from bot.slack.home import publish_home
from bot.slack.interactions import Interactions, Reply, parse, user_message
from bot.slack.mrkdwn import safe
from bot.slack.work import OrderedWork
from core.errors import InvalidInput
from core.notes import clean_link, clean_notes
from core.services import Services

log = logging.getLogger("gobot.app")
Listener = Callable[..., None]


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


def _open(client: WebClient, trigger: str, view: Mapping[str, Any], respond: Respond) -> None:
    try:
        client.views_open(trigger_id=trigger, view=dict(view))
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("could not open a modal: %s", exc)
        respond(
            text="Slack did not open the form in time: type the notes after the command "
            "(e.g. `/go-start deploy v2`), or try again.",
            response_type="ephemeral",
        )


def _deliver(reply: Reply, call: Invocation, client: WebClient, respond: Respond) -> None:
    """The form the reply opens, or its answer to the user alone."""
    if reply.form is not None and call.trigger:
        _open(client, call.trigger, reply.form, respond)
    else:
        _answer(respond, reply)


def _key(call: Invocation, opening: bool) -> str:
    """The queue an interaction waits in: a form opens apart from its channel's queue."""
    return f"modal:{call.user}" if opening else str(call.channel or "")


def _check_form(form: Mapping[str, str], place: Place | None) -> dict[str, str]:
    """Errors to show beside the modal's fields, by block id (none: it may be submitted)."""
    if place is None:  # private_metadata gobot did not write: said beside the first field
        return {block: FORGED[:150] for block in list(form)[:1]}
    errors: dict[str, str] = {}
    try:
        clean_notes(form.get("notes"))
    except InvalidInput as exc:
        errors["notes"] = exc.message[:150]
    if "link" in form:
        try:
            clean_link(form.get("link"))
        except InvalidInput as exc:
            errors["link"] = exc.message[:150]
    return errors


def _on_command(interactions: Interactions, work: OrderedWork) -> Listener:
    def on_command(
        ack: Ack,
        command: dict[str, Any],
        respond: Respond,
        request: BoltRequest,
        client: WebClient,
    ) -> None:
        """`/go-<name> text` and `/go <name> text`: run in the channel's queue, or (with no
        text, for a command that opens a form) in the user's own queue."""
        ack()
        received = time.monotonic()
        name, text = parse(str(command.get("command", "/go")), str(command.get("text", "")))
        call = Invocation(
            str(command.get("user_id", "")),
            command.get("channel_id"),
            text,
            command.get("response_url"),
            _signature(request),
            trigger=command.get("trigger_id"),
        )
        found = SUBCOMMANDS.get(name)
        if found is None:
            said = f":warning: Unknown subcommand `{safe(name, 40)}`.\n{help_text()}"
            reply = Reply("unknown", text_message(said), "unknown_subcommand")
            work.submit(
                str(call.channel or ""),
                lambda: _answer(respond, interactions.tell(reply, call, received)),
            )
            return
        opening = bool(found.opens and call.trigger and not text)
        work.submit(
            _key(call, opening),
            lambda: _deliver(interactions.run(found, call, received), call, client, respond),
        )

    return on_command


def _on_button(
    declared: Command, interactions: Interactions, services: Services, work: OrderedWork
) -> Listener:
    def on_button(
        ack: Ack, body: dict[str, Any], respond: Respond, request: BoltRequest, client: WebClient
    ) -> None:
        """A button on a message answers its clicker there; one on App Home (a step's or a
        window's, whose value names its channel) answers by publishing the page again, with
        what there is to say on top."""
        ack()
        received = time.monotonic()
        action = (body.get("actions") or [{}])[0]
        value = str(action.get("value", ""))
        on_home = (body.get("view") or {}).get("type") == "home"
        if on_home and issubclass(declared.input, Button):
            channel = declared.input.where(value)
        else:
            channel = (body.get("channel") or {}).get("id")
        container = body.get("container") or {}
        on_message = container.get("type") == "message" and container.get("message_ts")
        call = Invocation(
            str((body.get("user") or {}).get("id", "")),
            channel,
            reply_to=body.get("response_url"),
            request=_signature(request),
            action=str(action.get("action_id", "")),
            value=value,
            trigger=body.get("trigger_id"),
            message={"ts": str(container["message_ts"])} if on_message else None,
            home=on_home,
        )

        def run() -> None:
            reply = interactions.run(declared, call, received)
            if on_home and reply.form is None:
                notice = "\n".join(block_texts(reply.blocks or [])) or None
                publish_home(services, client, call.user, notice)
            else:
                _deliver(reply, call, client, respond)

        work.submit(_key(call, bool(declared.opens and call.trigger)), run)

    return on_button


def _on_form(
    declared: Command, interactions: Interactions, services: Services, work: OrderedWork
) -> Listener:
    def on_form(ack: Ack, body: dict[str, Any], request: BoltRequest, client: WebClient) -> None:
        """A submitted modal. Its user is checked first: someone who may not use it gets
        the refusal in the channel, and nothing of the form is looked at; then its fields,
        and what they clash with in the store (shown beside them: nothing was done), then it
        runs in the channel's queue, and the answer comes as an ephemeral message in that
        channel (to a form opened from App Home: on the page, published again)."""
        received = time.monotonic()
        view = body.get("view") or {}
        user = str((body.get("user") or {}).get("id", ""))
        metadata = str(view.get("private_metadata", ""))
        place = Place.read(metadata)
        form = form_values(view)
        call = Invocation(
            user,
            place.channel if place else None,
            request=_signature(request),
            form=form,
            metadata=metadata,
        )
        if interactions.may(user, declared):
            errors = _check_form(form, place)
            if not errors and place is not None and declared.check is not None:
                errors = {
                    block: message[:150]
                    for block, message in declared.check(services, form, place).items()
                }
            if errors:
                ack(response_action="errors", errors=errors)
                return
        ack()

        def run() -> None:
            reply = interactions.run(declared, call, received)
            if place is not None and place.home:
                notice = "\n".join(block_texts(reply.blocks or [])) or None
                publish_home(services, client, user, notice)
            elif reply.blocks and call.channel:
                client.chat_postEphemeral(
                    channel=call.channel,
                    user=user,
                    blocks=reply.blocks,
                    text=_fallback(reply.blocks),
                )

        work.submit(str(call.channel or ""), run)

    return on_form


def _on_shortcut(declared: Command, interactions: Interactions, work: OrderedWork) -> Listener:
    def on_shortcut(
        ack: Ack, body: dict[str, Any], respond: Respond, request: BoltRequest, client: WebClient
    ) -> None:
        """A message shortcut: the message comes with it; its permalink is read from Slack
        by the capability, once the user is authorized."""
        ack()
        received = time.monotonic()
        call = Invocation(
            str((body.get("user") or {}).get("id", "")),
            str((body.get("channel") or {}).get("id", "")),
            reply_to=body.get("response_url"),
            request=_signature(request),
            message=body.get("message") or {},
            slack=client,
        )
        work.submit(
            str(call.channel), lambda: _answer(respond, interactions.run(declared, call, received))
        )

    return on_shortcut


def _on_event(
    declared: Command,
    event: Event,
    interactions: Interactions,
    work: OrderedWork,
    pin_emoji: str,
) -> Listener:
    def on_event(
        ack: Ack,
        body: dict[str, Any],
        request: BoltRequest,
        client: WebClient,
        context: BoltContext,
    ) -> None:
        """An event gobot acts on runs in its channel's queue (App Home's in the user's);
        nobody asked gobot directly, so one from someone who may not use the capability is
        only logged: it costs no Slack call and no audit record."""
        ack()
        received = time.monotonic()
        found = event.read(body.get("event") or {}, EventContext(context.bot_user_id, pin_emoji))
        if found is None:
            return
        call = replace(found, request=_signature(request), slack=client)
        if not interactions.may(call.user, declared):
            log.info("%s by %s, who may not %s, was ignored", event.name, call.user, declared.verb)
            return
        key = call.channel or f"home:{call.user}"
        work.submit(key, lambda: _quiet(interactions.run(declared, call, received)))

    return on_event


def _quiet(reply: Reply) -> None:
    """An event's reply goes to nobody (there is no one to answer privately): its metric
    and log line are all."""


def _on_error(error: Exception, body: dict[str, Any], context: BoltContext) -> None:
    """A listener failed before handing the interaction over: its user is told, ephemerally
    where the request says how (its response_url, or the channel it came from), through the
    one error map (a known error says what happened; anything else an error id that is also
    logged)."""
    text = user_message(error)
    blocks = text_message(text)
    try:
        if context.respond is not None:
            context.respond(blocks=blocks, text=_fallback(blocks), response_type="ephemeral")
        elif context.channel_id and context.user_id and context.client is not None:
            context.client.chat_postEphemeral(
                channel=context.channel_id,
                user=context.user_id,
                blocks=blocks,
                text=_fallback(blocks),
            )
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("could not tell %s about an error: %s", context.user_id, exc)


def _exactly(names: Iterable[str]) -> re.Pattern[str]:
    """A pattern that matches exactly one of `names`: one Bolt listener for many ids."""
    return re.compile("^(?:" + "|".join(re.escape(name) for name in names) + ")$")


def register(
    app: App, interactions: Interactions, services: Services, work: OrderedWork, pin_emoji: str
) -> None:
    """Every trigger of every declared capability, and the error handler. Bolt tries its
    listeners in order, building each one's arguments, on every request: so slash commands,
    the most frequent, have the first listener, and buttons and forms one listener each that
    picks the declared capability by its action or callback id. `pin_emoji`: the reaction that
    adds a message to the session's timeline."""
    app.command(_exactly(SLASH_COMMANDS))(_on_command(interactions, work))
    buttons = {
        action: _on_button(command, interactions, services, work)
        for command in COMMANDS
        for action in command.actions
    }
    forms = {
        command.callback_id: _on_form(command, interactions, services, work)
        for command in COMMANDS
        if command.callback_id
    }

    @app.action(_exactly(buttons))
    def on_button(
        ack: Ack, body: dict[str, Any], respond: Respond, request: BoltRequest, client: WebClient
    ) -> None:
        action_id = str((body.get("actions") or [{}])[0].get("action_id", ""))
        buttons[action_id](ack, body, respond, request, client)

    @app.view(_exactly(forms))
    def on_form(ack: Ack, body: dict[str, Any], request: BoltRequest, client: WebClient) -> None:
        forms[str((body.get("view") or {}).get("callback_id", ""))](ack, body, request, client)

    for command in COMMANDS:
        if command.shortcut:
            app.message_shortcut(command.shortcut.callback_id)(
                _on_shortcut(command, interactions, work)
            )
        for event in command.events:
            app.event(event.name)(_on_event(command, event, interactions, work, pin_emoji))
        if command.step:
            app.function(command.step.callback_id)(
                steps.listener(command, command.step, interactions, services, work)
            )
    app.function(re.compile(".*"))(steps.on_undeclared_step)  # after every declared step
    app.error(_on_error)
