"""What a capability declares, and the one path every interaction takes.

A `Command` is one capability, declared once in its domain's module: its name, usage and
summary, who may use it and whether it is rate limited, every way it is reached (a slash
command or `/go` subcommand, buttons by action id, the form whose submission it is, the form
it opens, Events API events, a message shortcut, a workflow step), the typed input model of
its arguments, button values or form, and its handler, which renders its answer. The Bolt
listeners, `/go help`, the manifest, `gobot local` and the README's command table are derived
from these declarations (`bot.slack.catalog`, `bot.slack.app`).

Every trigger goes through `Interactions.run`: authorize → rate-limit → replay check → read
the typed input → one service call → render → metric and log line. A form is opened by its
capability's handler (it returns `OpenForm`), so opening one is authorized like anything else;
a message a shortcut or reaction is about is read from Slack by the handler, after
authorization. `user_message` is the one map from errors to what a Slack user reads.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from slack_sdk import WebClient

from bot.observability import Metrics
from bot.slack.blocks import Blocks, text_message
from bot.slack.mrkdwn import channel, date, plain, safe, who
from core.access import AccessPolicy, RateLimiter, Role
from core.errors import (
    GoError,
    InvalidInput,
    PermissionDenied,
    SessionAlreadyActive,
    StoreUnavailable,
)
from core.services import Services

log = logging.getLogger("gobot.commands")
UMBRELLA = "/go"
FORGED = (
    "That button or form was not made by gobot, or has been damaged: nothing was done. "
    "Use the command instead (`/go help`)."
)


@dataclass(frozen=True)
class Invocation:
    """Who asked what, where to answer, and the request's signature (None in Socket Mode): a
    signed request changes state at most once, across every process of one store. What came
    with it, as Slack sent it: a slash command's text (`args`), a button's action id and value,
    a submitted form's values by block id (or a workflow step's inputs) and its
    private_metadata, the trigger a form may be opened with, and the message a shortcut or a
    reaction is about (read from Slack through `slack` only once authorized)."""

    user: str
    channel: str | None
    args: str = ""
    reply_to: str | None = None
    request: str | None = None
    access: AccessPolicy | None = None  # set by `Interactions.run`: who else may do what
    action: str | None = None
    value: str | None = None
    form: Mapping[str, str] | None = None
    metadata: str | None = None
    trigger: str | None = None
    message: Mapping[str, Any] | None = None
    slack: WebClient | None = None


class Input(BaseModel):
    """A capability's typed input, read from its invocation after authorization; a value
    that does not fit is refused with `FORGED`."""

    model_config = ConfigDict(frozen=True)

    @classmethod
    def of(cls, call: Invocation) -> Self:
        return cls.model_validate(cls.raw(call))

    @classmethod
    def raw(cls, call: Invocation) -> object:
        return {}


class Nothing(Input):
    """No input beyond who, where and (for a shortcut or reaction) which message."""


class Text(Input):
    """A slash command's text."""

    text: str = ""

    @classmethod
    def raw(cls, call: Invocation) -> object:
        return {"text": call.args}


class Button(Input):
    """A button's value: the model as JSON. A value in the format an older gobot posted is
    read by `legacy`, so that buttons already in channels keep working."""

    @model_validator(mode="before")
    @classmethod
    def _decode(cls, data: object) -> object:
        if isinstance(data, str):
            return json.loads(data) if data.startswith("{") else cls.legacy(data)
        return data

    @classmethod
    def legacy(cls, value: str) -> dict[str, Any]:
        raise ValueError("not a value gobot posted")

    @classmethod
    def raw(cls, call: Invocation) -> object:
        return call.value or ""

    def value(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def where(cls, value: str) -> str | None:
        """The channel a button's value names (App Home's buttons come from no channel), or
        None: a value that is not gobot's names none."""
        try:
            channel = getattr(cls.model_validate(value), "channel", None)
        except ValidationError:
            return None
        return channel if isinstance(channel, str) else None


class Place(Button):
    """A form's private_metadata: the channel it was opened in, and the session or window a
    button opened it for (older forms: `"<channel> <id>"`)."""

    channel: str | None = Field(default=None, max_length=30, pattern=r"^[A-Z0-9]+$")
    about: str | None = Field(default=None, min_length=1, max_length=100)

    @classmethod
    def legacy(cls, value: str) -> dict[str, Any]:
        where, _, about = value.partition(" ")
        return {"channel": where or None, "about": about or None}

    @classmethod
    def read(cls, metadata: str | None) -> Place | None:
        """The place, or None when the metadata is not gobot's."""
        try:
            return cls.model_validate(metadata or "")
        except ValidationError:
            return None


class SessionButton(Button):
    """The value of a session's End session, Snooze and Take over buttons: the session the
    button belongs to, so that an old button never acts on a newer session (older buttons:
    the bare session id)."""

    session_id: str = Field(min_length=1, max_length=100)

    @classmethod
    def legacy(cls, value: str) -> dict[str, Any]:
        return {"session_id": value}


class FormInput(Input):
    """A submitted form: its place, and its values by block id."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    place: Place

    @classmethod
    def raw(cls, call: Invocation) -> object:
        return {**(call.form or {}), "place": call.metadata or ""}


@dataclass(frozen=True)
class Outputs:
    """What a workflow step hands on to the steps after it: its output parameters by name."""

    values: Mapping[str, str | int | bool]


@dataclass(frozen=True)
class OpenForm:
    """A form to open with the invocation's trigger (the view as Slack takes it)."""

    view: Mapping[str, Any]


Handler = Callable[[Services, Invocation, Any], Blocks | Outputs | OpenForm | None]


@dataclass(frozen=True)
class EventContext:
    """What an event's reader may need beside the event: the bot's own user ID and the pin
    emoji of the settings."""

    bot_user: str | None
    pin_emoji: str


@dataclass(frozen=True)
class Event:
    """An Events API event that reaches a capability; `read` makes its invocation, or None
    when the event is not one gobot acts on (another emoji, another tab, someone else)."""

    name: str
    read: Callable[[Mapping[str, Any], EventContext], Invocation | None]


@dataclass(frozen=True)
class Shortcut:
    """A message shortcut: its callback_id and what the manifest shows."""

    callback_id: str
    description: str


@dataclass(frozen=True)
class Param:
    """A workflow step's input or output parameter, as the manifest declares it."""

    name: str
    type: str
    title: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class Step:
    """A Workflow Builder custom step (a manifest function): its callback_id, title,
    description and typed parameters; `permalink`: its outputs include a link to the
    session's post."""

    callback_id: str
    title: str
    description: str
    inputs: tuple[Param, ...]
    outputs: tuple[Param, ...]
    permalink: bool = False


@dataclass(frozen=True)
class Command:
    """One capability, declared once: everything that reaches it, who may use it, its typed
    input and its handler. `slash`: `own` has its own `/go-<name>` and is a `/go`
    subcommand, `umbrella` only a `/go` subcommand. `opens`: the callback_id of the form its
    handler opens (a slash command with no text, or its button, with a trigger);
    `callback_id`: the form whose submission it is. A handler that returns None has nothing
    to tell (a button whose effect shows in the channel)."""

    name: str
    usage: str
    summary: str
    handler: Handler
    role: Role | None = None
    verb: str = ""
    undone: str = "Nothing was done"
    limited: bool = False
    input: type[Input] = Text
    slash: Literal["own", "umbrella"] | None = None
    actions: tuple[str, ...] = ()
    callback_id: str | None = None
    opens: str | None = None
    events: tuple[Event, ...] = field(default=())
    shortcut: Shortcut | None = None
    step: Step | None = None
    escapes: bool = False  # Slack sends mentions in the text as `<@U…|name>` (the manifest)


@dataclass(frozen=True)
class Reply:
    """What an interaction answers, and how it went (for the log line and the metrics); a
    workflow step's outputs, or (for anything but `ok`) what went wrong in plain text."""

    name: str
    blocks: Blocks | None
    outcome: str
    outputs: Mapping[str, str | int | bool] | None = None
    error: str | None = None
    form: Mapping[str, Any] | None = None


def user_message(error: BaseException, undone: str = "Nothing was done") -> str:
    """The one map from errors to what a Slack user reads: a typed error says what happened
    (a store failure also whether anything changed); anything else gets a short id that is also
    logged, never a stack trace."""
    if isinstance(error, StoreUnavailable):
        if error.kept:
            return f":warning: {safe(error.message[:1].upper() + error.message[1:])}."
        return (
            f":warning: {undone}: {safe(error.message)}. Nothing changed; try again once that "
            "is fixed."
        )
    if isinstance(error, SessionAlreadyActive):
        active = error.session
        where = f" in {channel(active.channel)}" if active.channel else ""
        return (
            f":warning: A GO session is already active: started by {who(active.started_by)}"
            f"{where} at {date(active.started_at_utc)}."
        )
    if isinstance(error, GoError):
        return f":warning: {safe(error.message)}"
    error_id = secrets.token_hex(4)
    log.error("unexpected error %s", error_id, exc_info=error)
    return (
        f":x: Something went wrong (error id `{error_id}`); it may not have been done. "
        "Check with `/go-session` before trying again."
    )


def parse(command: str, text: str) -> tuple[str, str]:
    """`/go-start x` and `/go start x` both give `("start", "x")`."""
    text = (text or "").strip()
    name = command.strip().lstrip("/")
    if name.startswith("go-"):
        return name.removeprefix("go-"), text
    first, _, rest = text.partition(" ")
    return (first.lower() or "help"), rest.strip()


class Interactions:
    """authorize → rate-limit → replay check → typed input → one service call → render →
    metric and log line, for every interaction."""

    def __init__(
        self,
        services: Services,
        access: AccessPolicy,
        limiter: RateLimiter,
        metrics: Metrics,
        denials: RateLimiter,
    ) -> None:
        """`limiter` counts the changes a user made; `denials` the commands refused to a user
        who may not make them, so that a flood of those is cut short too."""
        self._services = services
        self._access = access
        self._limiter = limiter
        self._metrics = metrics
        self._denials = denials

    def may(self, user: str, command: Command) -> bool:
        """Whether the user has the command's role (a quiet check, for what nobody asked of
        gobot directly: a stranger's reaction costs no Slack call and no audit record)."""
        return command.role is None or self._access.permits(user, command.role)

    def run(self, command: Command, call: Invocation, received: float) -> Reply:
        try:
            if command.role is not None:
                self._denials.check(call.user)
                try:
                    self._access.check(call.user, command.role, command.verb, call.channel)
                except PermissionDenied:
                    self._denials.record(call.user)
                    raise
            if command.limited:
                self._limiter.check(call.user)
            if command.role is not None and not self._first_time(call):
                log.warning("a replayed %s request was not acted on", command.name)
                return self.tell(Reply(command.name, None, "replayed"), call, received)
            try:
                given = command.input.of(call)
            except (ValidationError, ValueError):
                raise InvalidInput(FORGED) from None
            result = command.handler(self._services, replace(call, access=self._access), given)
            if isinstance(result, OpenForm):
                reply = Reply(command.name, None, "opened", form=result.view)
            elif isinstance(result, Outputs):
                reply = Reply(command.name, None, "ok", outputs=result.values)
            else:
                reply = Reply(command.name, result, "ok")
            if command.limited and reply.form is None:
                self._limiter.record(call.user)  # only changes that happened count
        except Exception as exc:
            text = user_message(exc, command.undone)
            code = exc.code if isinstance(exc, GoError) else "error"
            error = plain(re.sub(r"^:[a-z_]+: ", "", text)).replace("`", "")
            reply = Reply(command.name, text_message(text), code, error=error)
        return self.tell(reply, call, received)

    def _first_time(self, call: Invocation) -> bool:
        if call.request is None:
            return True
        return self._services.requests.first(call.request, self._services.clock.now())

    def tell(self, reply: Reply, call: Invocation, received: float) -> Reply:
        """The metric and the log line of an interaction's reply."""
        latency_ms = round((time.monotonic() - received) * 1000, 1)
        self._metrics.commands.labels(reply.name, reply.outcome).inc()
        log.info(
            "%s by %s: %s in %.1f ms",
            reply.name,
            call.user,
            reply.outcome,
            latency_ms,
            extra={
                "user": call.user,
                "command": reply.name,
                "outcome": reply.outcome,
                "latency_ms": latency_ms,
                "channel": call.channel,
            },
        )
        return reply
