"""The Bolt listeners: every slash command and button of the command table (on a message or
on App Home), and App Home itself.

Bolt runs each listener inline (`process_before_response`), and a listener only acks and
hands the interaction to gobot's own pool, in order per channel: the ack goes back to Slack at
once, and slow work (a snapshot waits up to GOBOT_SOURCE_TIMEOUT) never holds up the acks of
the requests behind it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt import Ack, App, BoltRequest, Respond
from slack_sdk import WebClient

from bot.slack import views
from bot.slack.commands import (
    BUTTONS,
    SLASH_COMMANDS,
    Interactions,
    Invocation,
    Reply,
    user_message,
)
from bot.slack.work import OrderedWork
from core.delivery import DeliveryService
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


def _deliver_woken(delivery: DeliveryService, channel: str) -> None:
    woken = delivery.wake(channel)
    if woken:
        log.info("the bot joined %s: delivering the %d messages that waited for it", channel, woken)


def register(app: App, interactions: Interactions, services: Services, work: OrderedWork) -> None:
    def on_command(
        ack: Ack, command: dict[str, Any], respond: Respond, request: BoltRequest
    ) -> None:
        ack()
        received = time.monotonic()
        channel = command.get("channel_id")
        call = Invocation(
            str(command.get("user_id", "")),
            channel,
            str(command.get("text", "")),
            command.get("response_url"),
            _signature(request),
        )
        name = str(command.get("command", "/go"))
        work.submit(
            str(channel or ""), lambda: _answer(respond, interactions.slash(call, name, received))
        )

    for name in SLASH_COMMANDS:
        app.command(name)(on_command)

    def publish_home(client: WebClient, user: str, notice: str | None = None) -> None:
        view = views.home_view(
            services.sessions.active(),
            services.sessions.latest(),
            services.playbook.steps,
            services.sessions.history(5),
            notice,
        )
        client.views_publish(user_id=user, view=view)

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
            views.StepButton.parse(value).channel
            if on_home
            else (body.get("channel") or {}).get("id")
        )
        user = str((body.get("user") or {}).get("id", ""))
        args = " ".join(part for part in (extra, value) if part)
        call = Invocation(user, channel, args, body.get("response_url"), _signature(request))

        def run() -> None:
            reply = interactions.run(command, call, received)
            if on_home:
                notice = "\n".join(views.block_texts(reply.blocks or [])) or None
                publish_home(client, user, notice)
            else:
                _answer(respond, reply)

        work.submit(str(channel or ""), run)

    for action_id in BUTTONS:
        app.action(action_id)(on_button)

    @app.event("app_home_opened")
    def on_home_opened(ack: Ack, event: dict[str, Any], client: WebClient) -> None:
        ack()
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        user = str(event["user"])
        work.submit(f"home:{user}", lambda: publish_home(client, user))

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
