"""Domain models: the session and what it holds, the playbook, audit events and windows. JSON
shapes follow the original `/core/go/` system; our fields are additive. Change gating's models
are in `core/gate_models.py`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from core.clock import UtcTime

Band = Literal["A", "B", "C", "D", "unknown"]
Outcome = Literal["completed", "rolled back", "aborted"]
OUTCOMES: tuple[Outcome, ...] = ("completed", "rolled back", "aborted")
Health = Literal["red", "yellow", "green", "unknown"]

BOOT_DEFAULT_REASON = "Boot default: caution until governance KPIs are green"
PERSON = re.compile(r"[UW][A-Z0-9]{1,20}")  # a Slack user ID: an actor who is a person


def is_person(actor: str | None) -> bool:
    """Whether an actor is a person (a Slack user), not a pipeline, an API key or the CLI."""
    return actor is not None and PERSON.fullmatch(actor) is not None


class ConeState(BaseModel):
    """Governance band. `unknown` only when the cone source failed; `reason` then says why.
    `updated_at_utc` is the source's own text, shown as given."""

    model_config = ConfigDict(extra="ignore")

    band: Band
    reason: str = ""
    updated_at_utc: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)


class HealthStatus(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Health
    reasons: list[str] = Field(default_factory=list)


class Snapshot(BaseModel):
    """What the system looked like at one moment. Keys `cone` and `status` as in the original."""

    cone: ConeState
    status: HealthStatus
    taken_at_utc: UtcTime | None = None


class MessageRef(BaseModel):
    """Where a message was posted (a Slack channel and message ts)."""

    channel: str
    ts: str


class Posted(BaseModel):
    """Where a session's messages landed: the snapshot post, whose thread holds the rest, and
    the playbook message in that thread, edited in place as steps change."""

    post: MessageRef | None = None
    playbook: MessageRef | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_post(cls, raw: Any) -> Any:
        """What earlier versions stored: the post's reference alone."""
        if isinstance(raw, dict) and "ts" in raw:
            return {"post": raw}
        return raw


class ReminderState(BaseModel):
    """Lives on the stored session, never only in a scheduler's memory."""

    next_due_utc: UtcTime | None = None
    sent: int = 0
    last_sent_utc: UtcTime | None = None


class WatchState(BaseModel):
    """What the health watch last saw, and when it looks again."""

    next_check_utc: UtcTime | None = None
    band: Band | None = None
    status: Health | None = None


class StepCompletion(BaseModel):
    """A step done; for a step that needs a second operator, `completed_by` asked and
    `approved_by` approved (the step counts as done only once approved)."""

    completed_at_utc: UtcTime
    completed_by: str
    notes: str = ""
    approved_by: str | None = None
    approved_at_utc: UtcTime | None = None


START_APPROVAL = "@start"  # the approval key of the session's start (never a step id)
ApprovalState = Literal["pending", "approved", "rejected"]


class Approval(BaseModel):
    """A second operator's answer, asked for a step that needs one (`GOBOT_APPROVAL_STEPS`)
    or for the session's start (`GOBOT_APPROVE_START`, key `START_APPROVAL`); the request is a
    message in the session's thread, edited in place once answered."""

    key: str
    asked_by: str
    asked_at_utc: UtcTime
    notes: str = ""
    state: ApprovalState = "pending"
    decided_by: str | None = None
    decided_at_utc: UtcTime | None = None
    reason: str = ""


class FreezeOverride(BaseModel):
    """An admin started the session while a change freeze was in force, saying why."""

    freeze_id: str
    by: str
    reason: str
    at_utc: UtcTime


class TimelineEntry(BaseModel):
    """Something recorded during a session: a note, a message added from Slack (its author
    and permalink; `key` names the message, so adding it again adds nothing), a handover
    (`to`: the new owner), a gate decision (`text` says what was asked and the answer) or an
    approval asked or answered."""

    kind: Literal["note", "message", "handover", "gate", "approval"]
    at_utc: UtcTime
    by: str
    text: str = ""
    author: str | None = None
    permalink: str | None = None
    key: str | None = None
    to: str | None = None


class GoSession(BaseModel):
    """A GO session. The first seven fields are the original contract; the rest are ours.

    The inactive session with no history has every original field null except `active`.
    Frozen: a change is a `model_copy`, so a session read once can be handed to every reader.
    """

    model_config = ConfigDict(frozen=True)

    active: bool = False
    started_at_utc: UtcTime | None = None
    ended_at_utc: UtcTime | None = None
    cone_band: Band | None = None
    status: Health | None = None
    notes: str | None = None
    snapshot: Snapshot | None = None

    id: str | None = None
    scope: str | None = None
    channel: str | None = None
    started_by: str | None = None
    ended_by: str | None = None
    end_notes: str | None = None
    end_snapshot: Snapshot | None = None
    duration_seconds: float | None = None
    message: MessageRef | None = None
    reminder: ReminderState = Field(default_factory=ReminderState)
    watch: WatchState = Field(default_factory=WatchState)
    playbook: dict[str, StepCompletion] = Field(default_factory=dict)
    owner: str | None = None  # who owns it now; None: whoever started it
    link: str | None = None  # a ticket, change request or runbook
    planned_end_utc: UtcTime | None = None
    outcome: Outcome | None = None  # once ended
    timeline: list[TimelineEntry] = Field(default_factory=list)
    approvals: dict[str, Approval] = Field(default_factory=dict)  # by step id / START_APPROVAL
    freeze_override: FreezeOverride | None = None

    @property
    def current_owner(self) -> str | None:
        return self.owner or self.started_by

    @property
    def overrun(self) -> timedelta | None:
        """How far past its planned end an ended session ended (None: it did not)."""
        end, planned = self.ended_at_utc, self.planned_end_utc
        return end - planned if end is not None and planned is not None and end > planned else None


class Delivery(BaseModel):
    """What became of a message: where it landed, why it cannot be delivered, or that it waits
    in the outbox for a retry."""

    message: MessageRef | None = None
    problem: str | None = None
    pending: bool = False


class SessionChange(BaseModel):
    """A started or ended session and what became of its channel message."""

    session: GoSession
    delivery: Delivery = Field(default_factory=Delivery)


class PlaybookStep(BaseModel):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = Field(min_length=1, max_length=150)
    description: str = Field(default="", max_length=1000)


class PlaybookProgress(BaseModel):
    """The global progress of gobot before runs were per session (`go_progress.json`), read
    once at upgrade: completions keyed by step id."""

    completed: dict[str, StepCompletion] = Field(default_factory=dict)


class ChecklistItem(BaseModel):
    number: int
    id: str
    title: str
    description: str
    done: bool
    completed_at_utc: UtcTime | None = None
    completed_by: str | None = None
    notes: str | None = None
    approved_by: str | None = None
    approved_at_utc: UtcTime | None = None
    approval: Approval | None = None  # asked for a step not done: pending, or rejected


class Checklist(BaseModel):
    """A session's playbook run; with no active session, the steps all pending."""

    steps: list[ChecklistItem]
    completed: int
    total: int
    session_active: bool = True
    session_id: str | None = None


class NextStep(BaseModel):
    """The first step not done yet; `step` is null once the whole playbook is complete."""

    step: ChecklistItem | None
    done: bool
    completed: int
    total: int
    session_active: bool = True


class AuditEvent(BaseModel):
    """What a service asks the audit log to record; the log adds seq, time and the chain."""

    event: str
    actor: str | None = None
    channel: str | None = None
    session_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


WindowStatus = Literal["scheduled", "started", "missed", "cancelled"]
WindowKind = Literal["window", "freeze"]


class GoWindow(BaseModel):
    """A planned GO window (or, `kind="freeze"`, a change freeze whose `notes` say why): when,
    in which channel, for how long, with what notes and link. `reminded` / `prompted`: its
    reminder before it and its prompt at its start are owed already, written with their claims
    (core/claims.py decides once across processes; these spare the tick a unit of work)."""

    id: str
    kind: WindowKind = "window"
    scope: str
    channel: str
    starts_at_utc: UtcTime
    duration_seconds: int = Field(gt=0)
    notes: str = ""
    link: str | None = None
    scheduled_by: str
    status: WindowStatus = "scheduled"
    reminded: bool = False
    prompted: bool = False
    session_id: str | None = None
    revision: int = 0  # how often it was moved or cancelled (a calendar's SEQUENCE)

    @property
    def ends_at_utc(self) -> datetime:
        return self.starts_at_utc + timedelta(seconds=self.duration_seconds)

    def overlaps(self, other: GoWindow) -> bool:
        return self.starts_at_utc < other.ends_at_utc and other.starts_at_utc < self.ends_at_utc
