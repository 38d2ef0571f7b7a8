"""How a GO session looks in Slack: the channel post with its snapshot and buttons (End
session, Snooze, Take over), the summary in its thread when it ends, the start and end forms,
and the session as `/go-session` and App Home show it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)

from bot.reports import session_drift
from bot.slack.blocks import (
    PLANNED,
    context,
    header,
    modal,
    notes_input,
    section,
    snapshot_blocks,
    to_dicts,
)
from bot.slack.capability import (
    Place,
    SessionButton,
)
from bot.slack.freezes import override_blocks, override_line
from bot.slack.mrkdwn import channel, date, safe, who
from bot.slack.playbook import playbook_progress
from bot.slack.workspace import TAKE_OVER_ACTION
from core.durations import format_duration
from core.models import OUTCOMES, GoSession, GoWindow, PlaybookStep

END_ACTION = "go_end_session"
SNOOZE_ACTIONS = {"go_snooze_30m": "30m", "go_snooze_1h": "1h", "go_snooze_2h": "2h"}
START_MODAL = "go_start_modal"
END_MODAL = "go_end_modal"


def snapshot_message(session: GoSession, steps: Sequence[PlaybookStep]) -> list[dict[str, Any]]:
    """The channel post of a session: live with an End button, or ended without one."""
    if session.snapshot is None:
        raise ValueError("a session without a snapshot has nothing to post")
    title = "GO session started" if session.active else "GO session ended"
    blocks: list[Block] = [header(title), *snapshot_blocks(session.snapshot)]
    if session.notes:
        blocks.append(section(f"*Notes*\n{safe(session.notes, 2900)}"))
    blocks.append(
        context(
            f"Started by {who(session.started_by)} at {date(session.started_at_utc)}"
            + _owned(session)
        )
    )
    blocks.append(context(playbook_progress(session, steps)))
    if (overridden := override_line(session)) is not None:
        blocks.append(context(overridden))
    if session.link or session.planned_end_utc:
        blocks.append(context(_plan(session)))
    if session.active:
        blocks.append(session_actions(session, "go_session_actions"))
    else:
        duration = format_duration(timedelta(seconds=session.duration_seconds or 0))
        blocks.append(
            context(
                f"Ended by {who(session.ended_by)} at {date(session.ended_at_utc)} after {duration}"
            )
        )
    return to_dicts(blocks)


def _value(session: GoSession) -> str:
    """What a button of the session's carries."""
    return SessionButton(session_id=session.id).value() if session.id else ""


def session_actions(session: GoSession, block_id: str) -> ActionsBlock:
    """End session (it opens the end form), Snooze reminders for 30m / 1h / 2h, and Take
    over (become the session's owner)."""
    buttons = [
        ButtonElement(
            text="End session", action_id=END_ACTION, value=_value(session), style="danger"
        ),
        *(
            ButtonElement(text=f"Snooze {label}", action_id=action, value=_value(session))
            for action, label in SNOOZE_ACTIONS.items()
        ),
        ButtonElement(text="Take over", action_id=TAKE_OVER_ACTION, value=_value(session)),
    ]
    return ActionsBlock(block_id=block_id, elements=buttons)


def snapshot_text(session: GoSession) -> str:
    """Notification fallback text for the channel post."""
    state = "started" if session.active else "ended"
    band, status = safe(session.cone_band or "?", 20), safe(session.status or "?", 20)
    return f"GO session {state} by {who(session.started_by)}: band {band}, health {status}"


def summary_message(session: GoSession, steps: Sequence[PlaybookStep]) -> list[dict[str, Any]]:
    """The thread reply when a session ends."""
    duration = format_duration(timedelta(seconds=session.duration_seconds or 0))
    lines = [
        f"*Session ended* by {who(session.ended_by)} after *{duration}*"
        + (f": *{safe(session.outcome, 20)}*." if session.outcome else "."),
        f"*Drift:* {safe(session_drift(session))}",
        playbook_progress(session, steps),
    ]
    if session.end_notes:
        lines.append(f"*End notes*\n{safe(session.end_notes, 2500)}")
    return to_dicts([section("\n".join(lines))])


def _plan(session: GoSession) -> str:
    """The session's link and planned end, as the post shows them."""
    parts = []
    if session.link:
        parts.append(f"*Link:* <{safe(session.link, 500)}|{safe(session.link, 100)}>")
    if session.planned_end_utc:
        parts.append(f"*Planned end:* {date(session.planned_end_utc)}")
    return " · ".join(parts)


def start_modal(channel: str | None, freeze: GoWindow | None = None) -> dict[str, Any]:
    """`/go-start` with no text: notes, a planned duration, a link; while `freeze` holds, the
    reason that overrides it (the form is opened for admins only then)."""
    planned = StaticSelectElement(
        action_id="planned",
        placeholder="none",
        options=[Option(text=label, value=label) for label in PLANNED],
    )
    link = PlainTextInputElement(action_id="link", placeholder="https://…")
    return modal(
        START_MODAL,
        "Start a GO session",
        "Start",
        Place(channel=channel).value(),
        [
            notes_input("Notes"),
            InputBlock(
                block_id="planned", label="Planned duration", optional=True, element=planned
            ),
            InputBlock(
                block_id="link", label="Ticket, change or runbook", optional=True, element=link
            ),
            *(override_blocks(freeze) if freeze else ()),
        ],
    )


def open_steps(session: GoSession, steps: Sequence[PlaybookStep], *, ended: bool = False) -> str:
    """How many of the playbook's steps the session has (or, `ended`, had) open."""
    still_open = sum(step.id not in session.playbook for step in steps)
    if not still_open:
        return f"Every playbook step {'was' if ended else 'is'} done."
    if ended:
        verb = "was" if still_open == 1 else "were"
        return f"{still_open} of {len(steps)} playbook steps {verb} left open."
    verb = "is" if still_open == 1 else "are"
    return f"{still_open} of {len(steps)} playbook steps {verb} still open."


def end_modal(
    channel: str | None,
    session: GoSession | None = None,
    steps: Sequence[PlaybookStep] = (),
    *,
    only: bool = True,
) -> dict[str, Any]:
    """`/go-end` with no text, or an **End session** button: end notes and the outcome (empty:
    completed), and how many of the playbook's steps the active `session` still has open.
    `only` (from a button): the form ends only that session."""
    choices = [Option(text=outcome.capitalize(), value=outcome) for outcome in OUTCOMES]
    outcome = StaticSelectElement(action_id="outcome", options=choices, initial_option=choices[0])
    blocks: list[Block] = [
        notes_input("End notes"),
        InputBlock(block_id="outcome", label="Outcome", optional=True, element=outcome),
    ]
    if session is not None and session.id:
        blocks.insert(0, context(open_steps(session, steps)))
    about = session.id if session is not None and only else None
    metadata = Place(channel=channel, about=about).value()
    return modal(END_MODAL, "End the GO session", "End session", metadata, blocks)


def _owned(session: GoSession) -> str:
    """` · owner: @x` once the session was handed over."""
    if session.current_owner == session.started_by:
        return ""
    return f" · owner: {who(session.current_owner)}"


def _in(session: GoSession) -> str:
    return f" in {channel(session.channel)}" if session.channel else ""


def session_blocks(session: GoSession) -> list[Block]:
    if session.started_at_utc is None:
        return [section("No GO session yet. Start one with `/go-start [notes]`.")]
    if not session.active or session.snapshot is None:
        duration = format_duration(timedelta(seconds=session.duration_seconds or 0))
        return [
            section(
                f"No active GO session. The last one was started by {who(session.started_by)}"
                f" at {date(session.started_at_utc)} and ended by {who(session.ended_by)} after "
                f"{duration}."
            )
        ]
    blocks: list[Block] = [
        section(
            f"*Active GO session*{_in(session)} started by {who(session.started_by)} at "
            f"{date(session.started_at_utc)}{_owned(session)}"
        ),
        *snapshot_blocks(session.snapshot),
    ]
    if session.notes:
        blocks.append(section(f"*Notes*\n{safe(session.notes, 2900)}"))
    return blocks


def session_status(session: GoSession) -> list[dict[str, Any]]:
    return to_dicts(session_blocks(session))
