"""What change gating speaks: a pipeline's question to the gate (`GateRequest`), the gate's
answer and what it was judged from (`GateDecision`), and a GitHub deployment waiting on gobot's
answer (`Deployment`)."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from core.clock import UtcTime
from core.models import Band, Health

GateState = Literal["allowed", "denied", "pending"]
GateWait = Literal["start", "step", "approval"]
GateBlock = Literal["session", "freeze", "health", "approval"]


CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{1,20}")
NOT_BLANK: dict[str, Any] = {"pattern": r"\S"}  # as documented: blank is stripped to nothing


def _channel_id(value: str | None) -> str | None:
    """Only a channel: a pipeline may not have gobot post to a person (a user ID) or anywhere
    else."""
    if value is not None and not CHANNEL_ID.fullmatch(value):
        raise ValueError("must be a Slack channel ID (C… or G…)")
    return value


def _step_text(value: object) -> object:
    """`{"step": 3}` means step 3, as `{"step": "3"}` does."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class GateRequest(BaseModel):
    """What a pipeline asks; every field optional (`channel` names the scope in channel
    scope)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Annotated[str | None, AfterValidator(_channel_id)] = Field(
        default=None,
        description="a Slack channel ID (C… or G…)",
        json_schema_extra={"pattern": f"^{CHANNEL_ID.pattern}$"},
    )
    step: Annotated[str | None, BeforeValidator(_step_text)] = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="a step's number or id",
        json_schema_extra=NOT_BLANK,
    )
    environment: str | None = Field(
        default=None, min_length=1, max_length=100, json_schema_extra=NOT_BLANK
    )
    ref: str | None = Field(default=None, min_length=1, max_length=200, json_schema_extra=NOT_BLANK)
    requester: str | None = Field(
        default=None, min_length=1, max_length=100, json_schema_extra=NOT_BLANK
    )

    def key(self, scope: str) -> str:
        """Names the request (not the poll): the same question asked again has the same key."""
        parts = (scope, self.step or "", self.environment or "", self.ref or "", self.requester)
        return hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()[:16]

    def asker(self, source: str, actor: str) -> str:
        """Who asked, as recorded: `source:requester` (never taken for a person: a pipeline
        naming itself `U2` is not the Slack user U2), or the caller itself."""
        return f"{source}:{self.requester}" if self.requester else actor

    def describe(self, *, asker: bool = True) -> str:
        """`deploy of main to production (step rollout) asked by ci`, as far as it is known
        (without `asked by …` where the line names its author itself)."""
        what = "change"
        if self.ref or self.environment:
            what = "deploy" + (f" of {self.ref}" if self.ref else "")
            what += f" to {self.environment}" if self.environment else ""
        if self.step:
            what += f" (step {self.step})"
        return what + (f" asked by {self.requester}" if asker and self.requester else "")


class Progress(BaseModel):
    completed: int
    total: int
    next_step: str | None = None  # the first step not done (its id)


class GateDecision(BaseModel):
    """The gate's answer and what it was judged from."""

    allowed: bool
    state: GateState
    reason: str
    session_id: str | None = None
    band: Band | None = None
    health: Health
    playbook: Progress | None = None
    step: str | None = None  # the named step's id
    freeze_id: str | None = None
    waiting_on: GateWait | None = None  # what a pending decision waits on
    denied_by: GateBlock | None = None  # what a denial comes from
    decided_at_utc: UtcTime


DeploymentState = Literal["pending", "approved", "rejected"]


class Deployment(BaseModel):
    """A GitHub deployment that waits on gobot's answer (a custom deployment protection rule):
    what GitHub asked, where it is gated (the channel of GOBOT_GITHUB_ENVIRONMENTS, its scope and
    step), and what gobot answered. `session_id`: the session it waits in (None while it waits
    for one); `reason`: why it was answered as it was, or why it waits; `shown`: its waiting
    message was owed in its channel (the answer edits it)."""

    id: str
    delivery: str
    repository: str
    environment: str
    channel: str | None = None
    scope: str | None = None
    step: str | None = None
    sha: str
    ref: str | None = None
    creator: str | None = None
    installation_id: int
    callback_url: str
    state: DeploymentState = "pending"
    session_id: str | None = None
    reason: str | None = None
    asked_at_utc: UtcTime
    decided_at_utc: UtcTime | None = None
    shown: bool = False

    def describe(self) -> str:
        """`org/repo@abc1234`."""
        return f"{self.repository}@{self.sha[:7]}"
