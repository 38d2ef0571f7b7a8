"""App Home: each active session with its playbook and buttons, or the last session and the
playbook template; then the planned windows with their Start now, Move and Cancel buttons, and
recent history. Published when a person opens it (`app_home_opened`, through the one
interaction path), and again after a click on it or a form opened from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.models.blocks import Block, DividerBlock

from bot.slack.blocks import context, header, section, to_dicts
from bot.slack.capability import Command, Event, EventContext, Invocation, Nothing
from bot.slack.history import history_blocks
from bot.slack.playbook import checklist_blocks, playbook_blocks
from bot.slack.session_views import session_blocks
from bot.slack.window_views import window_blocks
from core.models import GoSession, GoWindow, PlaybookStep
from core.playbook import run_checklist
from core.services import Services

MAX_HOME_BLOCKS = 100


def home_view(
    active: Sequence[GoSession],
    latest: GoSession,
    steps: Sequence[PlaybookStep],
    recent: list[GoSession],
    notice: str | None = None,
    *,
    now: datetime,
    windows: Sequence[GoWindow] = (),
) -> dict[str, Any]:
    """App Home: each active session with its playbook and the same buttons as its message
    (as many as fit), or the last session and the playbook template; then the planned windows
    with the same buttons as `/go-windows`, and recent history. `notice`: what the viewer's
    last click on this page (or form opened from it) answered (safe mrkdwn); `now`: a window
    not started by then asks before it starts early."""
    blocks: list[Block] = [header("GO sessions")]
    if notice:
        blocks.append(section(notice))
    if not active:
        blocks += [
            *session_blocks(latest),
            DividerBlock(),
            *checklist_blocks(run_checklist(steps, None)),
        ]
    tail = [
        DividerBlock(),
        section("*Planned GO windows*"),
        *window_blocks(windows, manage=True, now=now),
        DividerBlock(),
        *history_blocks(recent),
    ]
    for shown, session in enumerate(active):
        part = [DividerBlock(), *session_blocks(session), *playbook_blocks(session, steps)]
        if len(blocks) + len(part) + len(tail) + 1 > MAX_HOME_BLOCKS:
            more = len(active) - shown
            blocks.append(
                context(
                    f"… and {more} more active GO session{'s' if more > 1 else ''}: "
                    "`/go-checklist` in their channels shows their playbooks."
                )
            )
            break
        blocks += part
    return {"type": "home", "blocks": to_dicts(blocks + tail, MAX_HOME_BLOCKS)}


def publish_home(
    services: Services, client: WebClient, user: str, notice: str | None = None
) -> None:
    view = home_view(
        services.sessions.active(),
        services.sessions.latest(),
        services.playbook.steps,
        services.sessions.history(5),
        notice,
        now=services.clock.now(),
        windows=services.windows.upcoming(),
    )
    client.views_publish(user_id=user, view=view)


def _opened(event: Mapping[str, Any], context: EventContext) -> Invocation | None:
    """A person opened gobot's Home tab (not its Messages or About tab)."""
    if event.get("tab", "home") != "home" or not event.get("user"):
        return None
    return Invocation(str(event["user"]), None)


def _home(services: Services, call: Invocation, given: Nothing) -> None:
    if call.slack is not None:
        publish_home(services, call.slack, call.user)


COMMANDS: tuple[Command, ...] = (
    Command(
        "home",
        "App Home",
        "the active sessions with their playbooks, the planned windows and recent history",
        _home,
        input=Nothing,
        events=(Event("app_home_opened", _opened),),
    ),
)
