"""The change gate: may a change (a deploy, a pipeline's playbook step) go ahead now in a scope?

The answer is `allowed`, `denied` or `pending`, with a reason a person understands, judged from
the scope's active session, health read now, the change freeze in force and the session's
playbook run and approvals:

- denied: no active session; a freeze in force (unless the session was started under an admin's
  override of that freeze); health red or unknown;
- pending: the session's start waits for a second operator; the named step is not reached yet
  (an earlier step is not done); the named step waits for a second operator's approval (the
  gate asks for it on the requester's behalf when nobody has yet);
- allowed otherwise.

`decide` records every decision (`GO_GATE_DECIDED`) and shows each request once per state: on
the active session's timeline with a line in its thread, or, with no session, a line in the
channel. A request is what was asked (scope, step, environment, ref, requester), so a pipeline
that asks again and again while it waits adds one line, not one per poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from core.clock import Clock, format_utc
from core.gate_models import GateBlock, GateDecision, GateRequest, GateState, GateWait, Progress
from core.models import (
    START_APPROVAL,
    AuditEvent,
    GoSession,
    GoWindow,
    HealthStatus,
    PlaybookStep,
    TimelineEntry,
)
from core.outbox import GatePayload, new_item_id, notice_item
from core.playbook import BLOCKING_HEALTH, run_checklist
from core.ports import Approvals, Deliverer, NullDeliverer, UnitOfWork
from core.snapshots import SnapshotTaker
from core.windows import freeze_now
from core.workspace import add_to_timeline

log = logging.getLogger("gobot.gate")
MAX_GATE_LINES = 100  # a session's timeline shows at most this many gate lines


def judge(
    *,
    session: GoSession | None,
    health: HealthStatus,
    freeze: GoWindow | None,
    steps: tuple[PlaybookStep, ...],
    step: tuple[int, PlaybookStep] | None,
    approval_steps: frozenset[str],
    now: datetime,
) -> GateDecision:
    """The decision, from what it depends on (no reads, no writes)."""
    active = session if session is not None and session.active else None
    progress = None
    if active is not None:
        checklist = run_checklist(steps, active)
        first = next((item for item in checklist.steps if not item.done), None)
        progress = Progress(
            completed=checklist.completed,
            total=checklist.total,
            next_step=first.id if first else None,
        )

    def answer(
        state: GateState,
        reason: str,
        waiting_on: GateWait | None = None,
        denied_by: GateBlock | None = None,
    ) -> GateDecision:
        return GateDecision(
            allowed=state == "allowed",
            state=state,
            reason=reason,
            session_id=active.id if active else None,
            band=active.cone_band if active else None,
            health=health.status,
            playbook=progress,
            step=step[1].id if step else None,
            freeze_id=freeze.id if freeze else None,
            waiting_on=waiting_on,
            denied_by=denied_by,
            decided_at_utc=now,
        )

    if active is None:
        return answer(
            "denied", "No GO session is active here: start one with /go-start.", None, "session"
        )
    overridden = active.freeze_override is not None and (
        freeze is not None and active.freeze_override.freeze_id == freeze.id
    )
    if freeze is not None and not overridden:
        why = f": {freeze.notes}" if freeze.notes else ""
        return answer(
            "denied",
            f"A change freeze is in force until {format_utc(freeze.ends_at_utc, 'seconds')}{why} "
            f"(freeze {freeze.id}).",
            None,
            "freeze",
        )
    if health.status in BLOCKING_HEALTH:
        reasons = "; ".join(health.reasons) or "no reason given"
        return answer("denied", f"Health is {health.status} ({reasons}).", None, "health")
    start = active.approvals.get(START_APPROVAL)
    if start is not None and start.state != "approved":
        return answer(
            "pending",
            f"The GO session's start, asked by {start.asked_by}, waits for a second operator's "
            "approval.",
            "start",
        )
    if step is not None:
        number, named = step
        for earlier_number, earlier in enumerate(steps[: number - 1], start=1):
            if earlier.id not in active.playbook:
                return answer(
                    "pending",
                    f"Step {number} ({named.title}) is not reached yet: step {earlier_number} "
                    f"({earlier.title}) is not done.",
                    "step",
                )
        approval = active.approvals.get(named.id)
        if named.id in approval_steps and named.id not in active.playbook:
            if approval is not None and approval.state == "rejected":
                return answer(
                    "denied",
                    f"Step {number} ({named.title}) was rejected by {approval.decided_by}"
                    + (f": {approval.reason}" if approval.reason else "."),
                    None,
                    "approval",
                )
            return answer(
                "pending",
                f"Step {number} ({named.title}) waits for a second operator's approval.",
                "approval",
            )
    band = f"band {active.cone_band}, " if active.cone_band else ""
    return answer(
        "allowed",
        f"GO session {active.id} is active ({band}health {health.status}).",
    )


class GateService:
    def __init__(
        self,
        uow: UnitOfWork,
        snapshots: SnapshotTaker,
        clock: Clock,
        *,
        steps: tuple[PlaybookStep, ...],
        resolve: Callable[[str], tuple[int, PlaybookStep]],
        scope_for: Callable[[str | None], str],
        approvals: Approvals | None = None,
        default_channel: str | None = None,
        deliverer: Deliverer | None = None,
    ) -> None:
        self._uow = uow
        self._snapshots = snapshots
        self._clock = clock
        self._steps = steps
        self._resolve = resolve
        self._scope_for = scope_for
        self._approvals = approvals
        self._approval_steps = frozenset(
            step.id for step in steps if approvals is not None and approvals.needs(step.id)
        )
        self._default_channel = default_channel
        self._deliverer: Deliverer = deliverer or NullDeliverer()

    def evaluate(self, request: GateRequest, health: HealthStatus | None = None) -> GateDecision:
        """The decision now, recording nothing; `health` as read already (else read now).
        An unknown step or a missing channel in channel scope raises `InvalidInput`."""
        scope = self._scope_for(request.channel)
        step = self._resolve(request.step) if request.step else None
        health = health or self._snapshots.health()
        now = self._clock.now()
        session = self._uow.sessions.get(scope)
        return judge(
            session=session,
            health=health,
            freeze=freeze_now(self._uow.windows, scope, now),
            steps=self._steps,
            step=step,
            approval_steps=self._approval_steps,
            now=now,
        )

    def decide(self, request: GateRequest, *, source: str, actor: str) -> GateDecision:
        """Evaluate and record the decision (see `record`), then hand over what it owes."""
        health = self._snapshots.health()
        with self._uow:
            decision = self.evaluate(request, health)
            owed = self.record(request, decision, source=source, actor=actor)
            asked = self.ask_approval(request, decision, source=source, actor=actor)
            self._uow.commit()
        owed = owed or asked
        if owed is not None:
            self._deliverer.deliver(owed)
        return decision

    def ask_approval(
        self, request: GateRequest, decision: GateDecision, *, source: str, actor: str
    ) -> str | None:
        """Inside the decision's unit of work: a request that waits on a step's approval that
        nobody has asked for yet asks for it, on the requester's behalf (an operator other
        than the session's owner answers a pipeline's ask); returns the session whose messages
        that owes."""
        if self._approvals is None or decision.waiting_on != "approval" or decision.step is None:
            return None
        session = self._uow.sessions.get(self._scope_for(request.channel))
        if session is None or not session.active or session.id != decision.session_id:
            return None
        by = request.asker(source, actor)
        notes = f"asked by the GO gate for a {request.describe(asker=False)}"
        _, newly = self._approvals.ask(session, decision.step, by=by, notes=notes)
        return session.id if newly else None

    def record(
        self,
        request: GateRequest,
        decision: GateDecision,
        *,
        source: str,
        actor: str,
        show: bool = True,
    ) -> str | None:
        """Inside a unit of work: audit `decision` and, the first time this request gets this
        state, show it (timeline and thread line, or a line in the channel; not with `show`
        False: the caller shows it its own way); returns the outbox key of what it owes, if
        anything."""
        now = decision.decided_at_utc
        scope = self._scope_for(request.channel)
        session = self._uow.sessions.get(scope)
        active = session if session is not None and session.active else None
        channel = (active.channel if active else None) or request.channel or self._default_channel
        self._uow.audit.append(
            AuditEvent(
                event="GO_GATE_DECIDED",
                actor=actor,
                channel=channel,
                session_id=decision.session_id,
                data={
                    "state": decision.state,
                    "reason": decision.reason,
                    "requester": request.requester,
                    "source": source,
                    "environment": request.environment,
                    "ref": request.ref,
                    "step": decision.step,
                },
            ),
            now,
        )
        mark = f"gate:{decision.session_id or scope}:{request.key(scope)}:{decision.state}"
        if not show or not self._uow.claims.claim(mark, now):
            return None  # this request was shown in this state already
        if active is not None:
            if sum(entry.kind == "gate" for entry in active.timeline) >= MAX_GATE_LINES:
                log.warning("session %s: %d gate lines shown already", active.id, MAX_GATE_LINES)
                return None  # the audit keeps every decision; the thread is not flooded
            entry = TimelineEntry(
                kind="gate",
                at_utc=now,
                by=request.asker(source, actor),
                text=f"{request.describe(asker=False)}: {decision.state}. {decision.reason}",
            )
            add_to_timeline(self._uow, active, entry)
            return active.id
        if channel is None:
            return None  # no session and no channel to tell: the audit keeps it
        key = f"gate:{scope}"
        self._uow.outbox.add(
            [
                notice_item(
                    "gate",
                    GatePayload(request=request, decision=decision),
                    key=key,
                    scope=scope,
                    channel=channel,
                    now=now,
                    item_id=new_item_id(),
                    actor=actor,
                )
            ]
        )
        return key
