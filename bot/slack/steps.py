"""Workflow Builder custom steps (Bolt `app.function`): Start GO session, End GO session, Get
GO status and Add GO note, for people who run a workflow rather than gobot's commands.

Each step is a capability of its own (a `Command` whose `step` declares its manifest
function, with typed inputs), so it goes the one way every interaction goes: authorize the
user who ran the workflow, rate-limit, run, audit. That user comes from a
`user_context` input, which Slack fills in from the person running the workflow and which a
workflow's builder cannot set by hand (a plain user ID input could name anyone). A
`function_executed` event is acted on once per execution, even when Slack
delivers it again. The step then completes with `functions.completeSuccess` and its outputs,
or `functions.completeError` with what went wrong in a person's words. The manifest's
`functions` and `/go help` come from the same declarations, parameter types and all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from pydantic import ConfigDict
from slack_bolt.context.complete import Complete
from slack_bolt.context.fail import Fail
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.reports import session_drift
from bot.slack.blocks import PLANNED
from bot.slack.capability import Command, Input, Invocation, Outputs, Param, Step
from bot.slack.interactions import Interactions
from bot.slack.mrkdwn import CHANNEL_ID
from bot.slack.work import OrderedWork
from core.clock import format_utc
from core.durations import format_duration, parse_duration
from core.errors import InvalidInput
from core.models import OUTCOMES
from core.playbook import run_checklist
from core.services import Services

log = logging.getLogger("gobot.steps")

USER = "slack#/types/user_id"
USER_CONTEXT = "slack#/types/user_context"
CHANNEL = "slack#/types/channel_id"
RUNNER = Param(
    "user_context",
    USER_CONTEXT,
    "Run by",
    "the person who used this workflow (the step acts for them)",
    required=True,
)
WHERE = Param("channel_id", CHANNEL, "Channel", "the GO session's channel", required=True)


class StepInput(Input):
    """A step's inputs by name (its channel and runner are the invocation's)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def raw(cls, call: Invocation) -> object:
        return dict(call.form or {})


class StartInput(StepInput):
    notes: str = ""
    planned_duration: str = ""
    link: str = ""


class EndInput(StepInput):
    notes: str = ""
    outcome: str = ""


class NoteInput(StepInput):
    text: str = ""


def _start(services: Services, call: Invocation, given: StartInput) -> Outputs:
    planned = given.planned_duration
    if planned and planned not in PLANNED:
        raise InvalidInput(f"The planned duration must be one of {', '.join(PLANNED)}.")
    change = services.sessions.start(
        call.user,
        call.channel,
        given.notes,
        link=given.link or None,
        planned=parse_duration(planned) if planned else None,
    )
    session = change.session
    return Outputs(
        {
            "session_id": session.id or "",
            "band": session.cone_band or "",
            "health": session.status or "",
        }
    )


def _end(services: Services, call: Invocation, given: EndInput) -> Outputs:
    outcome = next((o for o in OUTCOMES if o == (given.outcome or "completed")), None)
    if outcome is None:
        raise InvalidInput(f"The outcome must be one of: {', '.join(OUTCOMES)}.")
    ended = services.sessions.end(call.user, call.channel, given.notes, outcome=outcome).session
    seconds = round(ended.duration_seconds or 0)
    return Outputs(
        {
            "session_id": ended.id or "",
            "duration": format_duration(timedelta(seconds=seconds)),
            "duration_seconds": seconds,
            "drift": session_drift(ended),
            "outcome": outcome,
        }
    )


def _status(services: Services, call: Invocation, given: StepInput) -> Outputs:
    """The channel's session, and health and band as they are now."""
    session = services.sessions.get(call.channel)
    snapshot = services.snapshots.take()
    run = run_checklist(services.playbook.steps, session if session.active else None)
    values: dict[str, str | int | bool] = {
        "active": session.active,
        "band": snapshot.cone.band,
        "health": snapshot.status.status,
        "playbook_progress": f"{run.completed}/{run.total}" if session.active else "",
        "session_id": (session.id or "") if session.active else "",
    }
    if session.active and session.current_owner:
        values["owner"] = session.current_owner
    return Outputs(values)


def _note(services: Services, call: Invocation, given: NoteInput) -> Outputs:
    added = services.workspace.note(call.user, call.channel, given.text)
    noted = services.sessions.get(call.channel)
    return Outputs({"session_id": noted.id or "", "added_at_utc": format_utc(added.entry.at_utc)})


COMMANDS: tuple[Command, ...] = (
    Command(
        "step-start",
        "Start GO session",
        "Start GO session",
        _start,
        role="operator",
        verb="start a GO session",
        undone="Not started",
        limited=True,
        input=StartInput,
        step=Step(
            "start_go_session",
            "Start GO session",
            "Snapshot band and health, post it to the channel and open a GO session",
            (
                RUNNER,
                WHERE,
                Param("notes", "string", "Notes", "what the session is for"),
                Param(
                    "planned_duration",
                    "string",
                    "Planned duration",
                    f"one of {', '.join(PLANNED)}, or empty for none",
                ),
                Param("link", "string", "Link", "a ticket, change request or runbook URL"),
            ),
            (
                Param("session_id", "string", "Session id", "the new session's id", required=True),
                Param("band", "string", "Band", "the cone band at the start", required=True),
                Param("health", "string", "Health", "health at the start", required=True),
                Param("permalink", "string", "Post", "a link to the session's post"),
            ),
            permalink=True,
        ),
    ),
    Command(
        "step-end",
        "End GO session",
        "End GO session",
        _end,
        role="operator",
        verb="end a GO session",
        undone="Not ended",
        input=EndInput,
        step=Step(
            "end_go_session",
            "End GO session",
            "End the channel's GO session, with end notes and an outcome",
            (
                RUNNER,
                WHERE,
                Param("notes", "string", "End notes", "how it went"),
                Param(
                    "outcome",
                    "string",
                    "Outcome",
                    f"one of {', '.join(OUTCOMES)} (default: completed)",
                ),
            ),
            (
                Param(
                    "session_id", "string", "Session id", "the ended session's id", required=True
                ),
                Param(
                    "duration",
                    "string",
                    "Duration",
                    "how long it was open, e.g. 1h 05m",
                    required=True,
                ),
                Param(
                    "duration_seconds",
                    "integer",
                    "Duration (s)",
                    "the same in seconds",
                    required=True,
                ),
                Param(
                    "drift",
                    "string",
                    "Drift",
                    "band and health at the end against the start",
                    required=True,
                ),
                Param("outcome", "string", "Outcome", "the outcome recorded", required=True),
            ),
        ),
    ),
    Command(
        "step-status",
        "Get GO status",
        "Get GO status",
        _status,
        input=StepInput,
        step=Step(
            "get_go_status",
            "Get GO status",
            "Whether the channel has an active GO session, its owner, health and band now, and "
            "the playbook's progress",
            (WHERE,),
            (
                Param("active", "boolean", "Active", "whether a GO session is open", required=True),
                Param("owner", USER, "Owner", "who owns the open session"),
                Param("band", "string", "Band", "the cone band now", required=True),
                Param("health", "string", "Health", "health now", required=True),
                Param("playbook_progress", "string", "Playbook", "steps done of all, e.g. 3/9"),
                Param("session_id", "string", "Session id", "the open session's id"),
            ),
        ),
    ),
    Command(
        "step-note",
        "Add GO note",
        "Add GO note",
        _note,
        role="operator",
        verb="add to a GO session's timeline",
        undone="Not added",
        limited=True,
        input=NoteInput,
        step=Step(
            "add_go_note",
            "Add GO note",
            "Add a note to the channel's active GO session's timeline",
            (RUNNER, WHERE, Param("text", "string", "Note", "what to record", required=True)),
            (
                Param("session_id", "string", "Session id", "the session noted", required=True),
                Param("added_at_utc", "string", "Added at", "when, in UTC", required=True),
            ),
        ),
    ),
)


def _permalink(client: WebClient, services: Services, channel: str, session_id: object) -> str:
    """A link to the started session's post, if it has been posted."""
    session = services.sessions.get(channel)
    if session.id != session_id or session.message is None:
        return ""
    try:
        answer = client.chat_getPermalink(
            channel=session.message.channel, message_ts=session.message.ts
        )
        return str(answer["permalink"])
    except (SlackApiError, SlackClientError, OSError, KeyError) as exc:
        log.warning("no permalink for the session's post: %s", exc)
        return ""


def _wrong_input(given: Mapping[str, Any]) -> str | None:
    """Why a step's inputs are not what it declares (each a single text; the channel a
    channel ID), in a builder's words; None if they are."""
    for name, value in given.items():
        if value is not None and not isinstance(value, str):
            return f"The step's {name} input must be one value, not a {type(value).__name__}."
    channel = given.get("channel_id")
    if channel and not CHANNEL_ID.fullmatch(str(channel)):
        return "The step's channel_id input must be a channel."
    return None


def on_undeclared_step(event: dict[str, Any], fail: Fail) -> None:
    """A workflow step gobot does not declare (a manifest newer or older than this gobot):
    answered as failed, in words, so that Slack does not retry it and the workflow says why."""
    callback = str((event.get("function") or {}).get("callback_id", ""))[:100]
    log.warning("a workflow ran the step %r, which gobot does not declare", callback)
    try:
        fail(
            error=f"gobot has no step {callback!r}: update the app from `gobot manifest`, or "
            "remove the step from the workflow."
        )
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("could not tell Slack how step %r went: %s", callback, exc)


def listener(
    command: Command, step: Step, interactions: Interactions, services: Services, work: OrderedWork
) -> Callable[..., None]:
    """The Bolt function listener of `command`'s workflow step `step`: Bolt acknowledges the
    event at once, and the step runs in its channel's queue."""

    def on_step(
        event: dict[str, Any],
        inputs: Mapping[str, Any],
        complete: Complete,
        fail: Fail,
        client: WebClient,
    ) -> None:
        received = time.monotonic()
        given = dict(inputs or {})
        context = given.pop("user_context", None)
        user = str(context.get("id") or "") if isinstance(context, dict) else ""
        problem = _wrong_input(given)
        form = {name: value for name, value in given.items() if isinstance(value, str)}
        channel = (form.get("channel_id") or None) if problem is None else None
        execution = str(event.get("function_execution_id", ""))
        call = Invocation(user, channel, "", None, f"function:{execution}", form=form)

        def run() -> None:
            try:
                if problem is not None:
                    fail(error=problem)
                    return
                if RUNNER in step.inputs and not user:
                    fail(
                        error="This step needs its Run by input set to the person who used "
                        "this workflow."
                    )
                    return
                reply = interactions.run(command, call, received)
                if reply.outcome == "ok":
                    outputs = dict(reply.outputs or {})
                    if step.permalink and channel:
                        outputs["permalink"] = _permalink(
                            client, services, channel, outputs.get("session_id")
                        )
                    complete(outputs=outputs)
                elif reply.outcome != "replayed":  # the first delivery completes it
                    fail(error=reply.error or "The step failed.")
            except (SlackApiError, SlackClientError, OSError) as exc:
                log.warning("could not tell Slack how step %s went: %s", step.callback_id, exc)

        work.submit(channel or "", run)

    return on_step
