"""Block Kit views. Every outside string goes through `bot.slack.mrkdwn`; every message is
built with `slack_sdk.models.blocks`, whose `to_dict()` validates Block Kit's limits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, NamedTuple

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    DateTimePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.reports import SLACK, drift_text, report_lines, session_drift, timeline_line
from bot.slack.mrkdwn import HEADER_LIMIT, channel, date, fit, safe, who
from core.durations import format_duration
from core.models import (
    OUTCOMES,
    Checklist,
    ChecklistItem,
    GoSession,
    GoWindow,
    NextStep,
    PlaybookStep,
    Snapshot,
    TimelineEntry,
)
from core.outbox import DigestPayload, DriftPayload, ReminderPayload, WindowPayload
from core.playbook import run_checklist
from core.report import SessionReport

MAX_MESSAGE_BLOCKS = 50
MAX_HOME_BLOCKS = 100
MAX_METRICS = 10
END_ACTION = "go_end_session"
SNOOZE_ACTIONS = {"go_snooze_30m": "30m", "go_snooze_1h": "1h", "go_snooze_2h": "2h"}
TAKE_OVER_ACTION = "go_take_over"
START_MODAL = "go_start_modal"
END_MODAL = "go_end_modal"
PLANNED = ("30m", "1h", "2h", "4h")
ADD_MESSAGE_SHORTCUT = "go_add_to_session"
COMPLETE_ACTION = "go_step_complete"
REOPEN_ACTION = "go_step_reopen"
SCHEDULE_MODAL = "go_schedule_modal"
WINDOW_START_ACTION = "go_window_start"
WINDOW_MOVE_ACTION = "go_window_move"
WINDOW_CANCEL_ACTION = "go_window_cancel"
MAX_LISTED_WINDOWS = 15

STATUS_ICON = {
    "green": ":large_green_circle:",
    "yellow": ":large_yellow_circle:",
    "red": ":red_circle:",
    "unknown": ":white_circle:",
}


def block_texts(node: Any) -> list[str]:
    """Every text of a message's blocks (or any part of them), in order: what a person reads."""
    if isinstance(node, dict):
        own = [node["text"]] if isinstance(node.get("text"), str) else []
        return own + [text for value in node.values() for text in block_texts(value)]
    if isinstance(node, list):
        return [text for value in node for text in block_texts(value)]
    return []


def to_dicts(blocks: list[Block], limit: int = MAX_MESSAGE_BLOCKS) -> list[dict[str, Any]]:
    if len(blocks) > limit:
        raise ValueError(f"{len(blocks)} blocks; Block Kit allows {limit}")
    return [block.to_dict() for block in blocks]


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(verbatim=True, text=fit(text, 3000)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(verbatim=True, text=fit(text, 3000))])


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=fit(text, HEADER_LIMIT))


def _snapshot_blocks(snapshot: Snapshot) -> list[Block]:
    cone, health = snapshot.cone, snapshot.status
    blocks: list[Block] = [
        SectionBlock(
            fields=[
                MarkdownTextObject(
                    verbatim=True, text=f"*Band*\n`{safe(cone.band, 20)}` {safe(cone.reason, 1900)}"
                ),
                MarkdownTextObject(
                    verbatim=True,
                    text=f"*Health*\n{STATUS_ICON[health.status]} {safe(health.status, 20)}",
                ),
            ]
        )
    ]
    if health.reasons:
        reasons = "\n".join(f"• {safe(reason, 500)}" for reason in health.reasons[:20])
        blocks.append(_section(f"*Reasons*\n{reasons}"))
    if cone.metrics:
        shown = list(cone.metrics.items())[:MAX_METRICS]
        lines = [
            f"{safe(str(key), 100)}: `{safe(json.dumps(value, ensure_ascii=False), 300)}`"
            for key, value in shown
        ]
        if len(cone.metrics) > MAX_METRICS:
            lines.append(f"… and {len(cone.metrics) - MAX_METRICS} more")
        blocks.append(_context("*Metrics*  " + "   ".join(lines)))
    return blocks


def playbook_progress(session: GoSession, steps: Sequence[PlaybookStep]) -> str:
    """How far the session's playbook run got: `3/9 steps`, the next one, what was skipped."""
    done = [step.id in session.playbook for step in steps]
    line = f"*Playbook:* {sum(done)}/{len(steps)} steps"
    open_numbers = [number for number, finished in enumerate(done, start=1) if not finished]
    if not open_numbers:
        return line + ", all done"
    if session.active:
        step = steps[open_numbers[0] - 1]
        return line + f", next: *{open_numbers[0]}. {safe(step.title, 150)}*"
    return line + f"; not done: {', '.join(str(number) for number in open_numbers)}"


def snapshot_message(session: GoSession, steps: Sequence[PlaybookStep]) -> list[dict[str, Any]]:
    """The channel post of a session: live with an End button, or ended without one."""
    if session.snapshot is None:
        raise ValueError("a session without a snapshot has nothing to post")
    header = "GO session started" if session.active else "GO session ended"
    blocks: list[Block] = [_header(header), *_snapshot_blocks(session.snapshot)]
    if session.notes:
        blocks.append(_section(f"*Notes*\n{safe(session.notes, 2900)}"))
    blocks.append(
        _context(
            f"Started by {who(session.started_by)} at {date(session.started_at_utc)}"
            + _owned(session)
        )
    )
    blocks.append(_context(playbook_progress(session, steps)))
    if session.link or session.planned_end_utc:
        blocks.append(_context(_plan(session)))
    if session.active:
        blocks.append(_session_actions(session, "go_session_actions"))
    else:
        duration = format_duration(timedelta(seconds=session.duration_seconds or 0))
        blocks.append(
            _context(
                f"Ended by {who(session.ended_by)} at {date(session.ended_at_utc)} after {duration}"
            )
        )
    return to_dicts(blocks)


def _session_actions(session: GoSession, block_id: str) -> ActionsBlock:
    """End session (it opens the end form), Snooze reminders for 30m / 1h / 2h, and Take
    over (become the session's owner)."""
    buttons = [
        ButtonElement(
            text="End session", action_id=END_ACTION, value=session.id or "", style="danger"
        ),
        *(
            ButtonElement(text=f"Snooze {label}", action_id=action, value=session.id or "")
            for action, label in SNOOZE_ACTIONS.items()
        ),
        ButtonElement(text="Take over", action_id=TAKE_OVER_ACTION, value=session.id or ""),
    ]
    return ActionsBlock(block_id=block_id, elements=buttons)


def _reminder_state(reminder: ReminderPayload, mark: str = "") -> str:
    """How the session stands against its planned end (to the minute), or how long it has
    been open if it has none; `mark` wraps the figure (`*` for bold)."""
    elapsed = format_duration(timedelta(seconds=reminder.elapsed_seconds))
    ahead = reminder.to_planned_end_seconds
    if ahead is None:
        return f"this GO session has been open for {mark}{elapsed}{mark}"
    minutes = format_duration(timedelta(minutes=round(abs(ahead) / 60)))
    if ahead > 0:
        return f"this GO session is due to end in {mark}{minutes}{mark} (open for {elapsed})"
    if minutes == "0s":
        return f"this GO session has reached its planned end (open for {elapsed})"
    return f"this GO session has overrun its planned end by {mark}{minutes}{mark}"


def reminder_message(
    reminder: ReminderPayload, steps: Sequence[PlaybookStep]
) -> list[dict[str, Any]]:
    """A reminder in the snapshot's thread: who, how long (or how it stands against its
    planned end), drift since the start, the playbook's progress."""
    session = reminder.session
    lead = ":rotating_light: *Escalation:* " if reminder.escalate else ":alarm_clock: "
    text = (
        f"{lead}{who(session.current_owner)}, {_reminder_state(reminder, '*')} "
        f"(reminder {reminder.number}).\n*Since the start:* "
        + safe(drift_text(session.cone_band, session.status, reminder.band, reminder.status))
        + "\n"
        + playbook_progress(session, steps)
    )
    return to_dicts([_section(text), _session_actions(session, "go_reminder_actions")])


def reminder_text(reminder: ReminderPayload) -> str:
    owner = who(reminder.session.current_owner)
    state = _reminder_state(reminder)
    return f"{state[0].upper()}{state[1:]}: {owner}, end it or snooze"


TIMELINE_ICONS = {"note": ":memo:", "message": ":pushpin:", "handover": ":arrows_counterclockwise:"}


def timeline_message(entry: TimelineEntry) -> list[dict[str, Any]]:
    """A timeline entry's one line in the session's thread."""
    return to_dicts([_section(f"{TIMELINE_ICONS[entry.kind]} {timeline_line(entry, SLACK)}")])


def report_message(report: SessionReport) -> list[dict[str, Any]]:
    """`/go-report`: the report's lines in as many sections as they need (a message holds at
    most 50; what does not fit is said, and `gobot report` has it all)."""
    sections: list[str] = []
    for line in report_lines(report, SLACK):
        if sections and len(sections[-1]) + len(line) < 2900:
            sections[-1] += "\n" + line
        else:
            sections.append(line)
    blocks: list[Block] = [_header("GO session report")]
    room = MAX_MESSAGE_BLOCKS - 2
    blocks += [_section(text) for text in sections[:room]]
    if len(sections) > room:
        blocks.append(_context("… the rest did not fit one message: `gobot report` has it all."))
    return to_dicts(blocks)


def drift_message(drift: DriftPayload) -> list[dict[str, Any]]:
    """Health or band changed while the session is open."""
    change = safe(drift_text(drift.from_band, drift.from_status, drift.to_band, drift.to_status))
    icon = STATUS_ICON[drift.to_status]
    reasons = "\n".join(f"• {safe(reason, 500)}" for reason in drift.reasons[:20])
    text = f"{icon} *Health watch:* {change}" + (f"\n{reasons}" if reasons else "")
    return to_dicts([_section(text)])


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
    return to_dicts([_section("\n".join(lines))])


def _plan(session: GoSession) -> str:
    """The session's link and planned end, as the post shows them."""
    parts = []
    if session.link:
        parts.append(f"*Link:* <{safe(session.link, 500)}|{safe(session.link, 100)}>")
    if session.planned_end_utc:
        parts.append(f"*Planned end:* {date(session.planned_end_utc)}")
    return " · ".join(parts)


def form_values(view: dict[str, Any]) -> dict[str, str]:
    """A submitted modal's values by block id: text as typed, a choice by its value, a
    conversation by its ID, a date and time as its epoch seconds."""
    values: dict[str, str] = {}
    state = (view.get("state") or {}).get("values") or {}
    for block_id, actions in state.items():
        for action in (actions or {}).values():
            if "selected_option" in action:
                value = (action.get("selected_option") or {}).get("value")
            elif "selected_conversation" in action:
                value = action.get("selected_conversation")
            elif "selected_date_time" in action:
                value = action.get("selected_date_time")
            else:
                value = action.get("value")
            values[str(block_id)] = str(value or "")
    return values


def _modal(
    callback_id: str, title: str, submit: str, metadata: str, blocks: list[Block]
) -> dict[str, Any]:
    return View(
        type="modal",
        callback_id=callback_id,
        title=title,
        submit=submit,
        close="Cancel",
        private_metadata=metadata,
        blocks=blocks,
    ).to_dict()


def _notes_input(label: str) -> InputBlock:
    return InputBlock(
        block_id="notes",
        label=label,
        optional=True,
        element=PlainTextInputElement(action_id="notes", multiline=True),
    )


def start_modal(channel: str | None) -> dict[str, Any]:
    """`/go-start` with no text: notes, a planned duration, a link."""
    planned = StaticSelectElement(
        action_id="planned",
        placeholder="none",
        options=[Option(text=label, value=label) for label in PLANNED],
    )
    link = PlainTextInputElement(action_id="link", placeholder="https://…")
    return _modal(
        START_MODAL,
        "Start a GO session",
        "Start",
        channel or "",
        [
            _notes_input("Notes"),
            InputBlock(
                block_id="planned", label="Planned duration", optional=True, element=planned
            ),
            InputBlock(
                block_id="link", label="Ticket, change or runbook", optional=True, element=link
            ),
        ],
    )


def end_modal(
    channel: str | None,
    session: GoSession | None = None,
    steps: Sequence[PlaybookStep] = (),
) -> dict[str, Any]:
    """`/go-end` with no text, or an **End session** button: end notes and the outcome. From
    a button, the form ends only that button's `session`, and says how many of the playbook's
    steps it still has open."""
    choices = [Option(text=outcome.capitalize(), value=outcome) for outcome in OUTCOMES]
    outcome = StaticSelectElement(action_id="outcome", options=choices, initial_option=choices[0])
    blocks: list[Block] = [
        _notes_input("End notes"),
        InputBlock(block_id="outcome", label="Outcome", element=outcome),
    ]
    metadata = channel or ""
    if session is not None and session.id:
        metadata = f"{metadata} {session.id}"
        still_open = sum(step.id not in session.playbook for step in steps)
        left = f"{still_open} of {len(steps)} playbook steps are still open."
        blocks.insert(0, _context(left if still_open else "Every playbook step is done."))
    return _modal(END_MODAL, "End the GO session", "End session", metadata, blocks)


def _owned(session: GoSession) -> str:
    """` · owner: @x` once the session was handed over."""
    if session.current_owner == session.started_by:
        return ""
    return f" · owner: {who(session.current_owner)}"


def _in(session: GoSession) -> str:
    return f" in {channel(session.channel)}" if session.channel else ""


def _session_blocks(session: GoSession) -> list[Block]:
    if session.started_at_utc is None:
        return [_section("No GO session yet. Start one with `/go-start [notes]`.")]
    if not session.active or session.snapshot is None:
        duration = format_duration(timedelta(seconds=session.duration_seconds or 0))
        return [
            _section(
                f"No active GO session. The last one was started by {who(session.started_by)}"
                f" at {date(session.started_at_utc)} and ended by {who(session.ended_by)} after "
                f"{duration}."
            )
        ]
    blocks: list[Block] = [
        _section(
            f"*Active GO session*{_in(session)} started by {who(session.started_by)} at "
            f"{date(session.started_at_utc)}{_owned(session)}"
        ),
        *_snapshot_blocks(session.snapshot),
    ]
    if session.notes:
        blocks.append(_section(f"*Notes*\n{safe(session.notes, 2900)}"))
    return blocks


def session_status(session: GoSession) -> list[dict[str, Any]]:
    return to_dicts(_session_blocks(session))


def _step_line(item: ChecklistItem) -> str:
    mark = ":white_check_mark:" if item.done else ":white_large_square:"
    line = f"{mark} *{item.number}.* {safe(item.title, 150)} `{safe(item.id, 64)}`"
    if item.done:
        line += f" — {who(item.completed_by)} at {date(item.completed_at_utc)}"
        if item.notes:
            line += f": _{safe(item.notes, 300)}_"
    return line


class StepButton(NamedTuple):
    """What a step's Complete or Reopen button carries: the session whose run it changes (an
    old button never changes a newer run), the step, and the session's channel (App Home's
    buttons come from no channel)."""

    session_id: str
    step: str
    channel: str | None

    @classmethod
    def of(cls, session: GoSession, step: str) -> StepButton:
        return cls(session.id or "", step, session.channel)

    def value(self) -> str:
        return f"{self.session_id} {self.step} {self.channel or '-'}"

    @classmethod
    def parse(cls, value: str) -> StepButton:
        session_id, step, channel = [*value.split(" "), "", "", ""][:3]
        return cls(session_id, step, None if channel in ("", "-") else channel)


def _step_block(item: ChecklistItem, session: GoSession) -> SectionBlock:
    """A step of a run, with Complete while open, or Reopen (asking first) once done; none
    once the session has ended."""
    accessory: ButtonElement | None = None
    value = StepButton.of(session, item.id).value()
    if session.active and item.done:
        accessory = ButtonElement(
            text="Reopen",
            action_id=REOPEN_ACTION,
            value=value,
            confirm=ConfirmObject(
                title="Reopen this step?",
                text=PlainTextObject(
                    text=f"Step {item.number} goes back to open; who did it and when is kept in "
                    "the audit trail."
                ),
                confirm="Reopen",
                deny="Keep it done",
            ),
        )
    elif session.active:
        accessory = ButtonElement(
            text="Complete", action_id=COMPLETE_ACTION, value=value, style="primary"
        )
    return SectionBlock(
        text=MarkdownTextObject(verbatim=True, text=fit(_step_line(item), 3000)),
        accessory=accessory,
    )


def _playbook_blocks(session: GoSession, steps: Sequence[PlaybookStep]) -> list[Block]:
    checklist = run_checklist(steps, session)
    head = playbook_progress(session, steps)
    if not session.active:
        head += " (the session has ended)"
    return [_section(head), *(_step_block(item, session) for item in checklist.steps)]


def playbook_message(session: GoSession, steps: Sequence[PlaybookStep]) -> list[dict[str, Any]]:
    """The session's one playbook message in its thread: every step with its state, who did
    it and when, and a button to complete or reopen it while the session is active."""
    return to_dicts(_playbook_blocks(session, steps))


def playbook_text(session: GoSession, steps: Sequence[PlaybookStep]) -> str:
    """Notification fallback text for the playbook message."""
    done = sum(step.id in session.playbook for step in steps)
    return f"GO playbook: {done}/{len(steps)} steps done"


def _checklist_blocks(checklist: Checklist) -> list[Block]:
    if checklist.session_active:
        head = f"*Launch playbook* — {checklist.completed}/{checklist.total} done"
    else:
        head = (
            "*Launch playbook* — no active GO session: each session runs these steps afresh "
            "(start one with `/go-start`)"
        )
    return [_section(head), _section("\n".join(_step_line(item) for item in checklist.steps))]


def checklist_message(checklist: Checklist) -> list[dict[str, Any]]:
    return to_dicts(_checklist_blocks(checklist))


def next_step_message(nxt: NextStep) -> list[dict[str, Any]]:
    if not nxt.session_active:
        return text_message(
            "No active GO session: the playbook runs with a session. Start one with `/go-start`."
        )
    if nxt.step is None:
        return text_message(f":tada: All {nxt.total} playbook steps are done.")
    step = nxt.step
    return text_message(
        f"*Next step {step.number}/{nxt.total}:* {safe(step.title, 150)} `{safe(step.id, 64)}`\n"
        f"{safe(step.description, 1000)}\n"
        f"Complete it with `/go-complete {step.number} [notes]`."
    )


def _history_blocks(sessions: list[GoSession]) -> list[Block]:
    if not sessions:
        return [_section("No ended GO sessions yet.")]
    lines = []
    for s in sessions:
        duration = format_duration(timedelta(seconds=s.duration_seconds or 0))
        end = s.end_snapshot
        end_state = f"{end.cone.band}/{end.status.status}" if end else "?"
        line = (
            f"• {date(s.started_at_utc)} · {duration} · {who(s.started_by)} → {who(s.ended_by)} · "
            f"{safe(s.cone_band or '?', 20)}/{safe(s.status or '?', 20)} → {safe(end_state, 40)}"
        )
        if s.outcome:
            line += f" · *{s.outcome}*"
        if s.link:
            line += f" · <{safe(s.link, 500)}|link>"
        if s.notes:
            line += f"\n    _{safe(s.notes, 200)}_"
        lines.append(line)
    return [_section(f"*Last {len(sessions)} GO sessions*"), _section("\n".join(lines))]


def history_message(sessions: list[GoSession]) -> list[dict[str, Any]]:
    return to_dicts(_history_blocks(sessions))


def text_message(text: str) -> list[dict[str, Any]]:
    """A plain reply; `text` must already be safe mrkdwn."""
    return to_dicts([_section(text)])


def home_view(
    active: Sequence[GoSession],
    latest: GoSession,
    steps: Sequence[PlaybookStep],
    recent: list[GoSession],
    notice: str | None = None,
    *,
    windows: Sequence[GoWindow] = (),
) -> dict[str, Any]:
    """App Home: each active session with its playbook and the same buttons as its message
    (as many as fit), or the last session and the playbook template; then the planned windows
    and recent history. `notice`: what the viewer's last click on this page answered (safe
    mrkdwn)."""
    blocks: list[Block] = [_header("GO sessions")]
    if notice:
        blocks.append(_section(notice))
    if not active:
        blocks += [
            *_session_blocks(latest),
            DividerBlock(),
            *_checklist_blocks(run_checklist(steps, None)),
        ]
    tail = [DividerBlock(), _planned_windows(windows), DividerBlock(), *_history_blocks(recent)]
    for shown, session in enumerate(active):
        part = [DividerBlock(), *_session_blocks(session), *_playbook_blocks(session, steps)]
        if len(blocks) + len(part) + len(tail) + 1 > MAX_HOME_BLOCKS:
            more = len(active) - shown
            blocks.append(
                _context(
                    f"… and {more} more active GO session{'s' if more > 1 else ''}: "
                    "`/go-checklist` in their channels shows their playbooks."
                )
            )
            break
        blocks += part
    return {"type": "home", "blocks": to_dicts(blocks + tail, MAX_HOME_BLOCKS)}


# planned windows and the weekly digest ------------------------------------------------------
def _span(window: GoWindow) -> str:
    length = format_duration(timedelta(seconds=window.duration_seconds))
    return f"{date(window.starts_at_utc)} for {length}"


def _window_details(window: GoWindow) -> str:
    lines = [f"in {channel(window.channel)}, scheduled by {who(window.scheduled_by)}"]
    if window.notes:
        lines.append(f"*Notes:* {safe(window.notes, 1000)}")
    if window.link:
        lines.append(f"*Link:* <{safe(window.link, 500)}|{safe(window.link, 100)}>")
    return "\n".join(lines)


def _planned_windows(windows: Sequence[GoWindow]) -> SectionBlock:
    """The planned windows in one section (`/go-windows` has their buttons)."""
    if not windows:
        return _section("*Planned GO windows:* none. Plan one with `/go-schedule`.")
    lines = [
        f"• *{_span(w)}* in {channel(w.channel)}" + (f": {safe(w.notes, 100)}" if w.notes else "")
        for w in windows[:MAX_LISTED_WINDOWS]
    ]
    more = len(windows) - MAX_LISTED_WINDOWS
    tail = f"\n… and {more} more (`/go-windows`)" if more > 0 else ""
    return _section(
        "*Planned GO windows* (`/go-windows` to start, move or cancel)\n" + "\n".join(lines) + tail
    )


def _window_buttons(window: GoWindow, *, manage: bool) -> ActionsBlock:
    """Start now (and, in a list, Move and Cancel) for one window."""
    buttons = [
        ButtonElement(
            text="Start now", action_id=WINDOW_START_ACTION, value=window.id, style="primary"
        )
    ]
    if manage:
        buttons += [
            ButtonElement(text="Move", action_id=WINDOW_MOVE_ACTION, value=window.id),
            ButtonElement(
                text="Cancel",
                action_id=WINDOW_CANCEL_ACTION,
                value=window.id,
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


def window_message(payload: WindowPayload) -> list[dict[str, Any]]:
    """A window's reminder before it, prompt at its start (to whoever scheduled it), or note
    that it was missed."""
    window = payload.window
    if payload.what == "missed":
        text = (
            f":warning: The GO window planned for {_span(window)} was missed: no GO session "
            "was started in it."
        )
        return to_dicts([_section(text), _context(_window_details(window))])
    if payload.what == "prompt":
        text = (
            f":arrow_forward: {who(window.scheduled_by)}, your GO window starts now "
            f"({_span(window)}): start its session?"
        )
    else:
        text = f":calendar: A GO window starts {_span(window)}."
    return to_dicts(
        [_section(text), _context(_window_details(window)), _window_buttons(window, manage=False)]
    )


def window_text(payload: WindowPayload) -> str:
    window = payload.window
    if payload.what == "missed":
        return "A planned GO window was missed"
    if payload.what == "prompt":
        return f"{who(window.scheduled_by)}: your GO window starts now"
    return f"A GO window starts {date(window.starts_at_utc)}"


def window_blocks(windows: Sequence[GoWindow], *, manage: bool) -> list[Block]:
    """Upcoming windows, soonest first, each with its buttons (`manage`: Move and Cancel too)."""
    if not windows:
        return [_section("No GO windows planned. Plan one with `/go-schedule`.")]
    blocks: list[Block] = []
    for window in windows[:MAX_LISTED_WINDOWS]:
        blocks.append(_section(f"*{_span(window)}* {_window_details(window)}"))
        blocks.append(_window_buttons(window, manage=manage))
    if len(windows) > MAX_LISTED_WINDOWS:
        blocks.append(_context(f"… and {len(windows) - MAX_LISTED_WINDOWS} more: `gobot windows`"))
    return blocks


def windows_message(windows: Sequence[GoWindow]) -> list[dict[str, Any]]:
    return to_dicts([_header("Planned GO windows"), *window_blocks(windows, manage=True)])


def schedule_modal(
    channel_id: str | None, now_epoch: int, window: GoWindow | None = None
) -> dict[str, Any]:
    """`/go-schedule`: when (a date and a time in the user's own time zone), planned duration,
    channel, notes and link. For a window being moved (`window`): when and duration only."""
    planned_options = [Option(text=label, value=label) for label in PLANNED]
    initial = next(
        (
            o
            for o in planned_options
            if window and o.value == format_duration(timedelta(seconds=window.duration_seconds))
        ),
        planned_options[1],
    )
    start = int(window.starts_at_utc.timestamp()) if window else now_epoch + 3600
    blocks: list[Block] = [
        InputBlock(
            block_id="when",
            label="When (your time zone)",
            element=DateTimePickerElement(action_id="when", initial_date_time=start),
        ),
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
            InputBlock(
                block_id="channel",
                label="Channel",
                element=ConversationSelectElement(
                    action_id="channel",
                    default_to_current_conversation=True,
                    filter=ConversationFilter(
                        include=["public", "private"], exclude_bot_users=True
                    ),
                    initial_conversation=channel_id,
                ),
            ),
            _notes_input("Notes"),
            InputBlock(
                block_id="link",
                label="Ticket, change or runbook",
                optional=True,
                element=PlainTextInputElement(action_id="link", placeholder="https://…"),
            ),
        ]
    metadata = f"{channel_id or ''} {window.id}" if window else (channel_id or "")
    title = "Move the GO window" if window else "Plan a GO window"
    return _modal(SCHEDULE_MODAL, title, "Move" if window else "Plan", metadata, blocks)


def digest_message(digest: DigestPayload) -> list[dict[str, Any]]:
    """The weekly digest: the past week's figures, then the coming week's windows."""
    total = format_duration(timedelta(seconds=digest.total_seconds))
    longest = format_duration(timedelta(seconds=digest.longest_seconds))
    outcomes = ", ".join(f"{count} {safe(name, 40)}" for name, count in digest.outcomes.items())
    share = round(100 * digest.steps_done / digest.steps_total) if digest.steps_total else 0
    lines = [
        f"*Sessions:* {digest.count}" + (f" ({outcomes})" if outcomes else ""),
        f"*Time in sessions:* {total}; the longest {longest}",
        f"*Playbook:* {share}% of steps done; {digest.all_steps_done} sessions did every step",
        f"*Drift seen:* {digest.drifted} sessions ended with another band or health",
        f"*Overruns:* {digest.overruns} sessions ran past their planned end",
    ]
    blocks: list[Block] = [
        _header(f"GO weekly digest · {digest.week}"),
        _context(f"{date(digest.since_utc)} to {date(digest.until_utc)}"),
        _section("\n".join(lines)),
        _section(f"*Planned for the coming week:* {len(digest.windows)} GO windows"),
    ]
    blocks += [
        _section(f"• *{_span(w)}* {_window_details(w)}")
        for w in digest.windows[:MAX_LISTED_WINDOWS]
    ]
    return to_dicts(blocks)
