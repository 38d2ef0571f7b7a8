"""What a capability declares: one `Command` per thing a person can do, declared once in its
domain's module, naming its name, usage and summary, who may use it and whether it is rate
limited, every way it is reached (a slash command or `/go` subcommand, buttons by action id,
the form whose submission it is, the form its handler opens, Events API events, a message
shortcut, a workflow step), the typed input model of its arguments, button values or form,
and its handler, which renders its answer. The Bolt listeners, `/go help`, the manifest,
`gobot local` and the README's command table are derived from these declarations
(`bot.slack.catalog`, `bot.slack.app`); `bot.slack.interactions` is the path they all take.

Inputs are pydantic models read after authorization: a button's value and a form's
private_metadata are the model's JSON, and what an older gobot posted is read by the model's
`legacy`, so that buttons already in channels keep working.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from slack_sdk import WebClient

from bot.slack.blocks import Blocks
from bot.slack.mrkdwn import plain
from core.access import AccessPolicy, Role
from core.errors import InvalidInput
from core.services import Services

FORGED = (
    "That button or form was not made by gobot, or has been damaged: nothing was done. "
    "Use the command instead (`/go help`)."
)


class Refusal(InvalidInput):
    """A refusal worded for Slack: `mrkdwn` (safe, naming people, channels and times as Slack
    shows them); its message is the same in plain text."""

    def __init__(self, mrkdwn: str) -> None:
        super().__init__(plain(mrkdwn))
        self.mrkdwn = mrkdwn


@dataclass(frozen=True)
class Invocation:
    """Who asked what, where to answer, and the request's signature (None in Socket Mode): a
    signed request changes state at most once, across every process of one store. What came
    with it, as Slack sent it: a slash command's text (`args`), a button's action id and value,
    a submitted form's values by block id (or a workflow step's inputs) and its
    private_metadata, the trigger a form may be opened with, and the message a shortcut or a
    reaction is about (read from Slack through `slack` only once authorized) or a button is on
    (its `ts`); `home`: it came
    from App Home, where the answer is shown."""

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
    home: bool = False  # from a button on App Home: the answer is shown on the page


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


class Arguments(Input):
    """A slash command's text read into typed fields by `parse`, which raises InvalidInput
    with the command's usage when the text does not fit."""

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: object) -> object:
        if isinstance(data, dict) and "text" in data:
            return cls.parse(str(data["text"]))
        return data

    @classmethod
    def parse(cls, text: str) -> dict[str, Any]:
        raise NotImplementedError

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
    """A form's private_metadata: the channel it was opened in, the session or window a
    button opened it for, and whether that button was on App Home, where the answer goes
    (older forms: `"<channel> <id>"`)."""

    channel: str | None = Field(default=None, max_length=30, pattern=r"^[A-Z0-9]+$")
    about: str | None = Field(default=None, min_length=1, max_length=100)
    home: bool | None = None

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
FormCheck = Callable[[Services, Mapping[str, str], "Place"], dict[str, str]]


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
    to tell (a button whose effect shows in the channel). `check`: what a submitted form's
    fields clash with in the store (errors by block id, shown beside the fields before the form
    closes; a read, never a change)."""

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
    check: FormCheck | None = None
    escapes: bool = False  # Slack sends mentions in the text as `<@U…|name>` (the manifest)
