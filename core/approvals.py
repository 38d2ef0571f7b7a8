"""A second operator for the risky steps: the playbook steps of `GOBOT_APPROVAL_STEPS`, and
the session's start when `GOBOT_APPROVE_START` is set.

Completing such a step (or starting a session) asks instead (`ask`, inside the change's unit of
work): a pending `Approval` on the session, audited `GO_STEP_APPROVAL_REQUESTED`, a timeline
entry, one request in the session's thread with Approve and Reject buttons, and the playbook
message's new state. Asking again while it waits adds nothing. Only an operator other than the
one who asked can answer (`answer`), once: approving completes the step (`completed_by` the
asker, `approved_by` the approver; `GO_STEP_APPROVED`); rejecting leaves it open, to be asked
again (`GO_STEP_APPROVAL_REJECTED`). An approved start lets the session go on; a rejected one
ends it, aborted. The request is edited in place to show the answer, and the playbook message
shows who asked and who approved.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from core.clock import Clock
from core.errors import InvalidInput, NoActiveSession, StepBlocked, UnknownSession
from core.models import (
    START_APPROVAL,
    Approval,
    AuditEvent,
    Delivery,
    GoSession,
    MessageRef,
    PlaybookStep,
    StepCompletion,
    TimelineEntry,
    is_person,
)
from core.notes import clean_notes
from core.outbox import ApprovalPayload, new_item_id, outbox_item
from core.playbook import BLOCKING_HEALTH, owe_run
from core.ports import Deliverer, NullDeliverer, UnitOfWork
from core.sessions import close
from core.snapshots import SnapshotTaker
from core.workspace import MAX_TIMELINE

log = logging.getLogger("gobot.approvals")


class OwnApproval(InvalidInput):
    """The operator who asked tried to answer their own request."""

    code = "own_approval"


@dataclass(frozen=True)
class Answer:
    """An approval as it stands after an answer: `newly` False when it had been answered
    already (`approval` says by whom and how); `what` names what was asked about;
    `delivery`: what became of the messages the answer owes."""

    session: GoSession
    approval: Approval
    newly: bool
    what: str
    delivery: Delivery


class ApprovalService:
    def __init__(
        self,
        uow: UnitOfWork,
        snapshots: SnapshotTaker,
        clock: Clock,
        *,
        steps: Sequence[PlaybookStep],
        approval_steps: frozenset[str] = frozenset(),
        approve_start: bool = False,
        deliverer: Deliverer | None = None,
    ) -> None:
        """`approval_steps`: the ids of the steps that need a second operator (checked against
        `steps` by the composition root); `approve_start`: a start needs one too."""
        self._uow = uow
        self._snapshots = snapshots
        self._clock = clock
        self._steps = tuple(steps)
        self._approval_steps = approval_steps
        self._approve_start = approve_start
        self._deliverer: Deliverer = deliverer or NullDeliverer()

    @property
    def approval_steps(self) -> frozenset[str]:
        return self._approval_steps

    def needs(self, key: str) -> bool:
        """Whether a step (by id) or, `START_APPROVAL`, a start needs a second operator."""
        return self._approve_start if key == START_APPROVAL else key in self._approval_steps

    def describe(self, key: str) -> str:
        return describe(key, self._steps)

    def _number(self, key: str) -> dict[str, int]:
        found = [n for n, step in enumerate(self._steps, start=1) if step.id == key]
        return {"number": found[0]} if found else {}

    def ask(
        self, session: GoSession, key: str, *, by: str, notes: str = ""
    ) -> tuple[GoSession, bool]:
        """Inside a unit of work: ask a second operator to approve `key` of the active
        `session` (a step not done, or `START_APPROVAL`) on `by`'s behalf (an operator, or a
        pipeline that asked the gate): the pending approval, its audit record and timeline
        entry, its request in the thread and the playbook message's new state. Returns the
        session as stored after, and whether it was asked now (False: it waits already, and
        nothing was added); the caller delivers what it owes after the commit."""
        earlier = session.approvals.get(key)
        if earlier is not None and earlier.state == "pending":
            return session, False
        now = self._clock.now()
        approval = Approval(key=key, asked_by=by, asked_at_utc=now, notes=notes)
        self._uow.audit.append(
            AuditEvent(
                event="GO_STEP_APPROVAL_REQUESTED",
                actor=by,
                channel=session.channel,
                session_id=session.id,
                data={"step": key, **self._number(key), "notes": notes},
            ),
            now,
        )
        session = session.model_copy(update={"approvals": {**session.approvals, key: approval}})
        session = self._noted(session, by, f"asked to approve {self.describe(key)}", notes)
        payload = ApprovalPayload(session=session, approval=approval)
        self._uow.outbox.add([outbox_item("approval", payload, now, item_id=new_item_id())])
        owe_run(self._uow, session, now)
        return session, True

    def answer(
        self,
        session_id: str,
        key: str,
        *,
        by: str,
        approve: bool,
        reason: str | None = None,
        message: MessageRef | None = None,
        reply_to: str | None = None,
    ) -> Answer:
        """`by` approves or rejects what was asked about `key` in session `session_id`, once:
        a second answer (a double click, an old request) changes nothing and says what
        happened. Refused to the operator who asked (`OwnApproval`), once the session has ended,
        and, approving a step, while health is red or unknown (audited as for completing it).
        `message`: the request answered, edited in place (None: the answer is posted in the
        thread). A rejected start ends the session, aborted, in the same unit of work."""
        why = clean_notes(reason)
        what = self.describe(key)
        found = self._uow.sessions.find(session_id)
        if found is None:
            raise UnknownSession("That GO session is not known here: nothing was done.")
        if _open(found, key, by) is not None:
            self._healthy(found, key, by, approve, what)
        snapshot = self._snapshots.take() if key == START_APPROVAL and not approve else None
        with self._uow:
            current = self._uow.sessions.get(found.scope or "")
            if current is None or current.id != session_id:
                current = self._uow.sessions.find(session_id) or found
            asked = _open(current, key, by)
            if asked is None:
                return Answer(current, current.approvals[key], False, what, Delivery())
            now = self._clock.now()
            decided = asked.model_copy(
                update={
                    "state": "approved" if approve else "rejected",
                    "decided_by": by,
                    "decided_at_utc": now,
                    "reason": why,
                }
            )
            self._uow.audit.append(
                AuditEvent(
                    event="GO_STEP_APPROVED" if approve else "GO_STEP_APPROVAL_REJECTED",
                    actor=by,
                    channel=current.channel,
                    session_id=current.id,
                    data={"step": key, **self._number(key), "asked_by": asked.asked_by}
                    | ({"reason": why} if not approve else {}),
                ),
                now,
            )
            update: dict[str, object] = {"approvals": {**current.approvals, key: decided}}
            if approve and key != START_APPROVAL:
                done = StepCompletion(
                    completed_at_utc=now,
                    completed_by=asked.asked_by,
                    notes=asked.notes,
                    approved_by=by,
                    approved_at_utc=now,
                )
                update["playbook"] = {**current.playbook, key: done}
            current = current.model_copy(update=update)
            verb = "approved" if approve else "rejected"
            current = self._noted(current, by, f"{verb} {what}", why)
            payload = ApprovalPayload(session=current, approval=decided, message=message)
            self._uow.outbox.add([outbox_item("approval", payload, now, item_id=new_item_id())])
            if snapshot is not None:
                current = close(
                    self._uow,
                    current,
                    actor=by,
                    channel=current.channel,
                    notes=f"Start rejected by {by}" + (f": {why}" if why else "."),
                    outcome="aborted",
                    snapshot=snapshot,
                    now=now,
                    reply_to=reply_to,
                )
            else:
                owe_run(self._uow, current, now)
            self._uow.commit()
        delivery = self._deliverer.deliver(current.id or "")
        return Answer(current, decided, True, what, delivery)

    def _healthy(self, session: GoSession, key: str, by: str, approve: bool, what: str) -> None:
        """Approving a step completes it: refused (and audited) while health is red or
        unknown, as completing it is; the approval still waits."""
        if not approve or key == START_APPROVAL:
            return
        health = self._snapshots.health()
        if health.status not in BLOCKING_HEALTH:
            return
        with self._uow:
            self._uow.audit.append(
                AuditEvent(
                    event="GO_STEP_BLOCKED",
                    actor=by,
                    channel=session.channel,
                    session_id=session.id,
                    data={"step": key, "status": health.status, "reasons": health.reasons},
                ),
                self._clock.now(),
            )
            self._uow.commit()
        reasons = "; ".join(health.reasons) or "no reason given"
        raise StepBlocked(
            f"{what[:1].upper()}{what[1:]} was not approved: health is {health.status} "
            f"({reasons}). The request still waits."
        )

    def _noted(self, session: GoSession, by: str, text: str, notes: str) -> GoSession:
        """The session with the approval's timeline entry (no line of its own in the thread:
        the request shows it), unless the timeline is full."""
        if len(session.timeline) >= MAX_TIMELINE:
            log.warning("session %s: timeline full, approval not noted", session.id)
            return session
        entry = TimelineEntry(
            kind="approval",
            at_utc=self._clock.now(),
            by=by,
            text=text + (f": {notes}" if notes else ""),
        )
        return session.model_copy(update={"timeline": [*session.timeline, entry]})


def describe(key: str, steps: Sequence[PlaybookStep]) -> str:
    """What an approval is about: `step 4 (Run data migrations)`, or `the GO session's
    start`."""
    if key == START_APPROVAL:
        return "the GO session's start"
    for number, step in enumerate(steps, start=1):
        if step.id == key:
            return f"step {number} ({step.title})"
    return f"step {key}"


def _open(session: GoSession, key: str, by: str) -> Approval | None:
    """The approval `by` may answer now; None when it was answered already. Raises when
    nothing was asked, the session has ended, or `by` asked it (or, asked by a pipeline rather
    than a person, `by` owns the session: the second operator is someone else)."""
    asked = session.approvals.get(key)
    if asked is None:
        raise InvalidInput("No approval was asked for that: nothing was done.")
    if asked.state != "pending":
        return None
    if not session.active:
        raise NoActiveSession(
            "That GO session has ended: its approval request can no longer be answered."
        )
    if by == asked.asked_by:
        raise OwnApproval(
            "You asked for this approval: another operator must approve or reject it."
        )
    if not is_person(asked.asked_by) and by == session.current_owner:
        raise OwnApproval(
            f"A pipeline ({asked.asked_by}) asked for this approval in the GO session you own: "
            "another operator must approve or reject it."
        )
    return asked
