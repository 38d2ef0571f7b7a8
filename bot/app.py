"""The Bolt app: every slash command, the End button and App Home, wired to one router.

Listeners only ack and hand the work to gobot's own pool, in order per channel. Bolt runs
listeners on a small pool and answers Slack when a listener acks, so slow work (a snapshot
waits up to GOBOT_SOURCE_TIMEOUT) done inside listeners would hold up the acks of the
commands queued behind it. Acks never wait.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import views
from bot.commands import CommandRouter, user_message
from bot.observability import Metrics
from bot.settings import Settings
from bot.slack import GroupMembers
from bot.wiring import Services
from bot.work import OrderedWork
from core.access import AccessPolicy, RateLimiter

log = logging.getLogger("gobot.app")
SLASH_COMMANDS = (
    "/go",
    "/go-start",
    "/go-end",
    "/go-session",
    "/go-checklist",
    "/go-next",
    "/go-complete",
    "/go-history",
)
RATE_LIMIT = 5
RATE_WINDOW_SECONDS = 30.0
LISTENER_THREADS = 16
WORK_THREADS = 16


def _fallback(blocks: list[dict[str, Any]]) -> str:
    """Notification text: the first section's (already escaped) text."""
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            return str(text.get("text", ""))[:300]
    return "gobot"


def build_router(settings: Settings, services: Services, client: WebClient) -> CommandRouter:
    access = AccessPolicy(
        settings.operators, settings.admins, GroupMembers(client), services.audit, services.clock
    )
    return CommandRouter(services, access, RateLimiter(RATE_LIMIT, RATE_WINDOW_SECONDS))


def build_app(
    settings: Settings,
    services: Services,
    client: WebClient,
    metrics: Metrics,
    *,
    socket_mode: bool = False,
) -> App:
    """Signature verification is on whenever requests arrive over HTTP (not in Socket Mode)."""
    secret = settings.slack_signing_secret
    app = App(
        client=client,
        signing_secret=None if socket_mode or secret is None else secret.get_secret_value(),
        request_verification_enabled=not socket_mode,
        logger=logging.getLogger("gobot.bolt"),
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="gobot-ack"),
    )
    work = OrderedWork(ThreadPoolExecutor(WORK_THREADS, thread_name_prefix="gobot-work"))
    register(app, build_router(settings, services, client), services, work, metrics)
    return app


def register(
    app: App, router: CommandRouter, services: Services, work: OrderedWork, metrics: Metrics
) -> None:
    def on_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()

        received = time.monotonic()

        def answer() -> None:
            user = str(command.get("user_id", ""))
            reply = router.run(
                user,
                command.get("channel_id"),
                str(command.get("command", "/go")),
                str(command.get("text", "")),
                command.get("response_url"),
            )
            respond(blocks=reply.blocks, text=_fallback(reply.blocks), response_type="ephemeral")
            latency_ms = round((time.monotonic() - received) * 1000, 1)
            metrics.commands.labels(reply.sub, reply.outcome).inc()
            log.info(
                "command %s by %s: %s in %.1f ms",
                reply.sub,
                user,
                reply.outcome,
                latency_ms,
                extra={
                    "user": user,
                    "command": reply.sub,
                    "outcome": reply.outcome,
                    "latency_ms": latency_ms,
                    "channel": command.get("channel_id"),
                },
            )

        work.submit(str(command.get("channel_id", "")), answer)

    for name in SLASH_COMMANDS:
        app.command(name)(on_command)

    @app.action(views.END_ACTION)
    def on_end_button(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        action = (body.get("actions") or [{}])[0]

        def answer() -> None:
            blocks = router.end_from_button(
                str(body.get("user", {}).get("id", "")),
                (body.get("channel") or {}).get("id"),
                str(action.get("value", "")),
                body.get("response_url"),
            )
            if blocks:
                respond(
                    blocks=blocks,
                    text=_fallback(blocks),
                    response_type="ephemeral",
                    replace_original=False,
                )

        work.submit(str((body.get("channel") or {}).get("id", "")), answer)

    def on_snooze_button(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        action = (body.get("actions") or [{}])[0]
        channel = (body.get("channel") or {}).get("id")

        def answer() -> None:
            blocks = router.snooze_from_button(
                str(body.get("user", {}).get("id", "")),
                channel,
                str(action.get("value", "")),
                views.SNOOZE_ACTIONS.get(str(action.get("action_id")), "1h"),
            )
            respond(
                blocks=blocks,
                text=_fallback(blocks),
                response_type="ephemeral",
                replace_original=False,
            )

        work.submit(str(channel or ""), answer)

    for action_id in views.SNOOZE_ACTIONS:
        app.action(action_id)(on_snooze_button)

    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return

        def publish() -> None:
            view = views.home_view(
                services.sessions.latest(),
                services.playbook.checklist(),
                services.sessions.history(5),
            )
            client.views_publish(user_id=str(event["user"]), view=view)

        work.submit(f"home:{event['user']}", publish)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        user_message(error)
