"""The 9-step launch playbook, run once per session: checklist, next step, complete (refused
with no active session, while the session's start waits for approval, and unless health is
green or yellow; a step that needs a second operator is asked for instead, see
core/approvals.py), reopen and reset; each change owes the session's playbook message (one per
session, edited in place) its new state."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from core.clock import Clock
from core.errors import InvalidInput, NoActiveSession, StepBlocked, UnknownStep
from core.models import (
    START_APPROVAL,
    Approval,
    AuditEvent,
    Checklist,
    ChecklistItem,
    Delivery,
    GoSession,
    NextStep,
    PlaybookStep,
    StepCompletion,
)
from core.notes import clean_notes
from core.outbox import OutboxItem, SessionPayload, new_item_id, outbox_item
from core.ports import Approvals, Deliverer, NullDeliverer, UnitOfWork
from core.rules import not_this_session
from core.snapshots import SnapshotTaker

PLAYBOOK_FILE = "go_playbook.json"
BLOCKING_HEALTH = ("red", "unknown")
MAX_STEPS = 40  # a step and its button per block, in a message of at most 50 blocks

DEFAULT_STEPS: tuple[PlaybookStep, ...] = (
    PlaybookStep(
        id="health",
        title="Confirm cone band and health",
        description="Band and health are what the launch expects; reasons are read.",
    ),
    PlaybookStep(
        id="freeze",
        title="Freeze unrelated changes",
        description="Announce the change freeze; pause merges and other deploys.",
    ),
    PlaybookStep(
        id="backup",
        title="Verify backups and a restore point",
        description="A fresh backup exists and a restore has been tested.",
    ),
    PlaybookStep(
        id="migrate",
        title="Run data migrations",
        description="Schema and data migrations applied and checked.",
    ),
    PlaybookStep(
        id="canary", title="Deploy to canary", description="The release runs on the canary hosts."
    ),
    PlaybookStep(
        id="canary-check",
        title="Check canary metrics",
        description="Error rate, latency and saturation match the baseline.",
    ),
    PlaybookStep(
        id="rollout", title="Roll out everywhere", description="The release runs on every host."
    ),
    PlaybookStep(
        id="smoke", title="Run smoke tests", description="End-to-end checks pass in production."
    ),
    PlaybookStep(
        id="handover",
        title="Announce and hand over",
        description="Launch announced; on-call briefed; freeze lifted.",
    ),
)

_STEPS_ADAPTER = TypeAdapter(list[PlaybookStep])


def load_steps(data_dir: Path) -> tuple[PlaybookStep, ...]:
    """Steps from `go_playbook.json` (`{"steps": [...]}` or a bare list) or the defaults."""
    path = data_dir / PLAYBOOK_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DEFAULT_STEPS
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path} is not valid JSON: {exc}") from exc
    if isinstance(raw, dict):
        raw = raw.get("steps")
    try:
        steps = tuple(_STEPS_ADAPTER.validate_python(raw))
    except ValidationError as exc:
        raise InvalidInput(f"{path} does not hold a valid list of steps: {exc}") from exc
    if not steps:
        raise InvalidInput(f"{path} has no steps")
    if len(steps) > MAX_STEPS:
        raise InvalidInput(
            f"{path} has {len(steps)} steps; at most {MAX_STEPS} fit one Slack message"
        )
    ids = [step.id for step in steps]
    if len(set(ids)) != len(ids):
        raise InvalidInput(f"{path} has duplicate step ids")
    return steps


def run_checklist(steps: Sequence[PlaybookStep], session: GoSession | None) -> Checklist:
    """A session's run of `steps` (active or ended); with no session, every step pending."""
    run = session.playbook if session is not None else {}
    asked = session.approvals if session is not None else {}
    items = []
    for number, step in enumerate(steps, start=1):
        done = run.get(step.id)
        approval = asked.get(step.id)
        items.append(
            ChecklistItem(
                number=number,
                id=step.id,
                title=step.title,
                description=step.description,
                done=done is not None,
                completed_at_utc=done.completed_at_utc if done else None,
                completed_by=done.completed_by if done else None,
                notes=done.notes if done else None,
                approved_by=done.approved_by if done else None,
                approved_at_utc=done.approved_at_utc if done else None,
                approval=approval if done is None and _open(approval) else None,
            )
        )
    return Checklist(
        steps=items,
        completed=sum(item.done for item in items),
        total=len(items),
        session_active=session is not None and session.active,
        session_id=session.id if session is not None else None,
    )


def _open(approval: Approval | None) -> bool:
    """An approval a step not done shows: pending, or rejected (one approved before the step
    was reopened says nothing about it now)."""
    return approval is not None and approval.state != "approved"


def run_item(session: GoSession, now: datetime) -> OutboxItem:
    """The playbook message owed for `session`'s run as it is now: posted in the session's
    thread the first time, then edited in place."""
    return outbox_item("playbook", SessionPayload(session=session), now, item_id=new_item_id())


def owe_run(uow: UnitOfWork, session: GoSession, now: datetime) -> None:
    """Inside a unit of work: store the session's new run and owe its playbook message the new
    state (replacing any edit not sent yet)."""
    uow.sessions.replace(session)
    uow.outbox.drop(session.id or "", ("playbook",), now)
    uow.outbox.add([run_item(session, now)])


class PlaybookService:
    """The playbook is run per session: each start begins a fresh run of the steps, stored on
    the session (`GoSession.playbook`), so history keeps every session's final run and in
    channel scope each channel's session has its own. Changing a run needs an active session,
    and owes the session's playbook message its new state (delivered at once)."""

    def __init__(
        self,
        steps: tuple[PlaybookStep, ...],
        uow: UnitOfWork,
        snapshots: SnapshotTaker,
        clock: Clock,
        scope_for: Callable[[str | None], str],
        *,
        deliverer: Deliverer | None = None,
        approvals: Approvals | None = None,
    ) -> None:
        """`approvals`: what needs a second operator, asked for instead of completed."""
        self._steps = steps
        self._uow = uow
        self._store = uow.sessions
        self._audit = uow.audit
        self._snapshots = snapshots
        self._clock = clock
        self._scope_for = scope_for
        self._deliverer: Deliverer = deliverer or NullDeliverer()
        self._approvals = approvals

    @property
    def steps(self) -> tuple[PlaybookStep, ...]:
        return self._steps

    def _active(self, channel: str | None) -> GoSession | None:
        current = self._store.get(self._scope_for(channel))
        return current if current is not None and current.active else None

    def _required(self, channel: str | None, doing: str, session_id: str | None) -> GoSession:
        current = self._active(channel)
        if session_id is not None and (current is None or current.id != session_id):
            raise not_this_session(
                self._store.find(session_id),
                "That GO session has ended: its playbook can no longer change.",
            )
        if current is None:
            raise NoActiveSession(
                f"There is no active GO session to {doing}: start one with `/go-start` first "
                "(each session runs the playbook afresh)."
            )
        return current

    def checklist(self, channel: str | None = None) -> Checklist:
        """The active session's run; with none, the steps all pending (`session_active`
        false)."""
        return self.checklist_of(self._active(channel))

    def checklist_of(self, session: GoSession | None) -> Checklist:
        return run_checklist(self._steps, session)

    def next_step(self, channel: str | None = None) -> NextStep:
        checklist = self.checklist(channel)
        pending = next((item for item in checklist.steps if not item.done), None)
        return NextStep(
            step=pending,
            done=pending is None,
            completed=checklist.completed,
            total=checklist.total,
            session_active=checklist.session_active,
        )

    def resolve(self, ref: str) -> tuple[int, PlaybookStep]:
        """A step by its number (`3`) or id (`canary`)."""
        key = ref.strip().lower()
        for number, step in enumerate(self._steps, start=1):
            if key in (str(number), step.id):
                return number, step
        raise UnknownStep(
            f"There is no step {ref.strip()!r}. Use a number from 1 to {len(self._steps)} "
            f"or one of: {', '.join(step.id for step in self._steps)}."
        )

    def complete(
        self,
        ref: str,
        actor: str,
        notes: str | None = None,
        channel: str | None = None,
        session_id: str | None = None,
    ) -> Completion:
        """Mark a step of the active session's run done; with `session_id`, only if that
        session is the active one (a button on an old message must not change a newer run).

        Completing a done step changes nothing. Completing is refused with no active session,
        while the session's start waits for a second operator, and while health is red or
        unknown (that refusal is audited). A step that needs a second operator is not completed
        but asked for (`Completion.waiting`), once while it waits.
        """
        text = clean_notes(notes)
        number, step = self.resolve(ref)
        current = self._required(channel, "complete a step of", session_id)
        _started(current)
        if step.id in current.playbook:
            return Completion(self.checklist_of(current).steps[number - 1], False, [], Delivery())
        health = self._snapshots.health()
        now = self._clock.now()
        if health.status in BLOCKING_HEALTH:
            reasons = "; ".join(health.reasons) or "no reason given"
            with self._uow:
                self._audit.append(
                    AuditEvent(
                        event="GO_STEP_BLOCKED",
                        actor=actor,
                        channel=channel,
                        session_id=current.id,
                        data={"step": step.id, "status": health.status, "reasons": health.reasons},
                    ),
                    now,
                )
                self._uow.commit()
            raise StepBlocked(
                f"Step {number} ({step.title}) was not completed: health is "
                f"{health.status} ({reasons})."
            )
        approvals = self._approvals
        if approvals is not None and approvals.needs(step.id):
            with self._uow:
                current = _started(self._required(channel, "complete a step of", session_id))
                asked = False
                if step.id not in current.playbook:  # not approved meanwhile
                    current, asked = approvals.ask(current, step.id, by=actor, notes=text)
                self._uow.commit()
            delivery = self._deliverer.deliver(current.id or "") if asked else Delivery()
            item = self.checklist_of(current).steps[number - 1]
            return Completion(item, False, [], delivery, waiting=item.approval, asked=asked)
        with self._uow:
            current = _started(self._required(channel, "complete a step of", session_id))
            newly = step.id not in current.playbook
            if newly:
                self._audit.append(
                    AuditEvent(
                        event="GO_STEP_COMPLETE",
                        actor=actor,
                        channel=channel,
                        session_id=current.id,
                        data={"step": step.id, "number": number, "notes": text},
                    ),
                    now,
                )
                done = StepCompletion(completed_at_utc=now, completed_by=actor, notes=text)
                current = current.model_copy(
                    update={"playbook": {**current.playbook, step.id: done}}
                )
                owe_run(self._uow, current, now)
            self._uow.commit()
        delivery = self._deliverer.deliver(current.id or "") if newly else Delivery()
        checklist = self.checklist_of(current)
        skipped = [item.number for item in checklist.steps[: number - 1] if not item.done]
        return Completion(checklist.steps[number - 1], newly, skipped if newly else [], delivery)

    def reopen(
        self, ref: str, actor: str, channel: str | None = None, session_id: str | None = None
    ) -> Reopened:
        """Take back a completion made by mistake (audited as GO_STEP_REOPENED)."""
        number, step = self.resolve(ref)
        with self._uow:
            current = self._required(channel, "reopen a step of", session_id)
            earlier = current.playbook.get(step.id)
            if earlier is None:
                raise InvalidInput(f"Step {number} ({step.title}) is not done: nothing to reopen.")
            now = self._clock.now()
            self._audit.append(
                AuditEvent(
                    event="GO_STEP_REOPENED",
                    actor=actor,
                    channel=channel,
                    session_id=current.id,
                    data={"step": step.id, "number": number, "was_done_by": earlier.completed_by},
                ),
                now,
            )
            run = {key: value for key, value in current.playbook.items() if key != step.id}
            current = current.model_copy(update={"playbook": run})
            owe_run(self._uow, current, now)
            self._uow.commit()
        delivery = self._deliverer.deliver(current.id or "")
        return Reopened(self.checklist_of(current).steps[number - 1], delivery)

    def reset(self, actor: str, channel: str | None = None) -> Checklist:
        """Clear the active run (an admin's action: the edge authorizes it)."""
        with self._uow:
            current = self._required(channel, "reset the playbook of", None)
            now = self._clock.now()
            self._audit.append(
                AuditEvent(
                    event="GO_PLAYBOOK_RESET", actor=actor, channel=channel, session_id=current.id
                ),
                now,
            )
            current = current.model_copy(update={"playbook": {}})
            owe_run(self._uow, current, now)
            self._uow.commit()
        self._deliverer.deliver(current.id or "")
        return self.checklist_of(current)

    def adopt_legacy_progress(self) -> None:
        """Upgrading from one global `go_progress.json` (or `gobot_progress`): its completions
        join the run of the session active now, once; with none active they are archived."""
        with self._uow:
            legacy = self._uow.progress.load()
            if not legacy.completed:
                return
            current = self._store.latest()
            if current is not None and current.active:
                merged = {**legacy.completed, **current.playbook}
                owe_run(
                    self._uow, current.model_copy(update={"playbook": merged}), self._clock.now()
                )
            self._uow.progress.archive()
            self._uow.commit()


def _started(session: GoSession) -> GoSession:
    """The session, unless its start still waits for a second operator."""
    start = session.approvals.get(START_APPROVAL)
    if start is not None and start.state != "approved":
        raise InvalidInput(
            "The GO session's start waits for a second operator's approval (the request is in "
            "its thread): steps can be completed once it is approved."
        )
    return session


@dataclass(frozen=True)
class Completion:
    """A completed step, whether this call completed it, the earlier steps still open, and
    what became of the playbook message's edit. A step that needs a second operator is
    `waiting` for one instead; `asked`: this call asked (else it was waiting already)."""

    item: ChecklistItem
    newly: bool
    skipped: list[int]
    delivery: Delivery
    waiting: Approval | None = None
    asked: bool = False


@dataclass(frozen=True)
class Reopened:
    """A reopened step, and what became of the playbook message's edit."""

    item: ChecklistItem
    delivery: Delivery
