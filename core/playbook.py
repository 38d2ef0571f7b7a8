"""The 9-step launch playbook: checklist, next step, complete (refused unless health is
green or yellow) and reset."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from core.clock import Clock
from core.errors import InvalidInput, StepBlocked, UnknownStep
from core.models import (
    AuditEvent,
    Checklist,
    ChecklistItem,
    NextStep,
    PlaybookProgress,
    PlaybookStep,
    StepCompletion,
)
from core.notes import clean_notes
from core.ports import UnitOfWork
from core.snapshots import SnapshotTaker

PLAYBOOK_FILE = "go_playbook.json"
BLOCKING_HEALTH = ("red", "unknown")

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
    ids = [step.id for step in steps]
    if len(set(ids)) != len(ids):
        raise InvalidInput(f"{path} has duplicate step ids")
    return steps


class PlaybookService:
    def __init__(
        self,
        steps: tuple[PlaybookStep, ...],
        uow: UnitOfWork,
        snapshots: SnapshotTaker,
        clock: Clock,
    ) -> None:
        self._steps = steps
        self._uow = uow
        self._progress = uow.progress
        self._audit = uow.audit
        self._snapshots = snapshots
        self._clock = clock

    def checklist(self) -> Checklist:
        return self._checklist(self._progress.load())

    def _checklist(self, progress: PlaybookProgress) -> Checklist:
        items = []
        for number, step in enumerate(self._steps, start=1):
            done = progress.completed.get(step.id)
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
                )
            )
        completed = sum(item.done for item in items)
        return Checklist(steps=items, completed=completed, total=len(items))

    def next_step(self) -> NextStep:
        checklist = self.checklist()
        pending = next((item for item in checklist.steps if not item.done), None)
        return NextStep(
            step=pending,
            done=pending is None,
            completed=checklist.completed,
            total=checklist.total,
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
        self, ref: str, actor: str, notes: str | None = None, channel: str | None = None
    ) -> tuple[ChecklistItem, bool]:
        """Mark a step done; return the item and whether this call completed it.

        Completing a done step changes nothing. Completing is refused while health is red or
        unknown, and the refusal is audited.
        """
        text = clean_notes(notes)
        number, step = self.resolve(ref)
        newly = False
        if step.id not in self._progress.load().completed:
            health = self._snapshots.health()
            now = self._clock.now()
            if health.status in BLOCKING_HEALTH:
                reasons = "; ".join(health.reasons) or "no reason given"
                self._audit.append(
                    AuditEvent(
                        event="GO_STEP_BLOCKED",
                        actor=actor,
                        channel=channel,
                        data={"step": step.id, "status": health.status, "reasons": health.reasons},
                    ),
                    now,
                )
                raise StepBlocked(
                    f"Step {number} ({step.title}) was not completed: health is "
                    f"{health.status} ({reasons})."
                )
            with self._uow.transaction():
                if step.id not in self._progress.load().completed:
                    self._audit.append(
                        AuditEvent(
                            event="GO_STEP_COMPLETE",
                            actor=actor,
                            channel=channel,
                            data={"step": step.id, "number": number, "notes": text},
                        ),
                        now,
                    )
                    completion = StepCompletion(
                        completed_at_utc=now, completed_by=actor, notes=text
                    )
                    newly = self._progress.mark_done(step.id, completion) is None
        return self.checklist().steps[number - 1], newly

    def reset(self, actor: str, channel: str | None = None) -> Checklist:
        """Clear every completion (an admin's action: the edge authorizes it)."""
        with self._uow.transaction():
            self._audit.append(
                AuditEvent(event="GO_PLAYBOOK_RESET", actor=actor, channel=channel),
                self._clock.now(),
            )
            self._progress.reset()
        return self.checklist()
