"""GitHub deployments gated by the GO gate (a GitHub App's custom deployment protection rule).

A deployment GitHub asks about is kept first (`requested`, on the webhook's request path: a
store write, nothing slow), then judged (`judge`, off that path) by the gate in the channel its
environment maps to (GOBOT_GITHUB_ENVIRONMENTS), with the environment's step, `repo@sha7` as the
ref and the creator as the requester:

- allowed → approved, denied → rejected (a rejected approval, or a session that ended): in one
  unit of work the decision is recorded (audit, thread or channel line), the deployment stored
  answered, and the answer to GitHub owed as a `github` outbox item keyed by the deployment
  (delivered once, retried like a Slack message);
- no active session → it waits for one: stored pending and shown once in its channel (a
  `deploy` message with a Start session button, owed under a once-only mark), a message edited
  in place once the deployment is answered (owed with the answer);
- pending (a step not reached, an approval, asked for it by the gate if nobody has yet), or
  denied by what may clear (health red or unknown, a change freeze in force) → it waits in that
  session.

`redecide` judges every waiting deployment again (the tick, and right after a session starts
or ends or a step completes: `Redeciding`); a change is answered once across processes (the
store's compare-and-set inside the unit of work). A deployment that waited in a session that
ended without allowing it is rejected, saying so. The same delivery, or the same deployment
asked again, decides nothing new. An environment gobot does not gate is rejected at once, the
comment naming GOBOT_GITHUB_ENVIRONMENTS (so that the run does not wait 30 days for nobody).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from core.clock import Clock
from core.gate import GateService
from core.gate_models import Deployment, DeploymentState, GateDecision, GateRequest
from core.models import AuditEvent, Delivery, HealthStatus
from core.outbox import DeployPayload, GithubPayload, new_item_id, notice_item
from core.ports import Deliverer, NullDeliverer, UnitOfWork
from core.snapshots import SnapshotTaker

log = logging.getLogger("gobot.deployments")
ACTOR = "github"
SOURCE = "github"
WAITING = "No GO session is active in its channel: it waits for one to start."
GATE_STATE = {"approved": "allowed", "rejected": "denied", "pending": "pending"}


@dataclass(frozen=True)
class Gated:
    """Where an environment's deployments are gated: a channel and, optionally, a step."""

    channel: str
    step: str | None = None


class DeploymentAsked(BaseModel):
    """What a deployment protection rule's webhook asks (read from GitHub's payload)."""

    delivery: str
    repository: str
    environment: str
    sha: str
    ref: str | None = None
    creator: str | None = None
    installation_id: int
    callback_url: str
    github_id: int | None = None  # the GitHub deployment's id

    def key(self) -> str:
        """The deployment's id: its run (the callback URL names it), its environment and
        GitHub's deployment, so that a redelivery or the same ask again is the same."""
        parts = (self.callback_url, self.environment, str(self.github_id or ""))
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


class DeploymentService:
    def __init__(
        self,
        uow: UnitOfWork,
        gate: GateService,
        snapshots: SnapshotTaker,
        clock: Clock,
        *,
        environments: Mapping[str, Gated],
        scope_for: Callable[[str | None], str],
        deliverer: Deliverer | None = None,
    ) -> None:
        """`deliverer`: what `requested` owes is delivered with it at once (the webhook decides
        off the request path); what `redecide` owes waits for the tick's delivery, so that a
        slash command that started a session never waits on GitHub."""
        self._uow = uow
        self._gate = gate
        self._snapshots = snapshots
        self._clock = clock
        self._environments = environments
        self._scope_for = scope_for
        self._deliverer: Deliverer = deliverer or NullDeliverer()

    def get(self, deployment_id: str) -> Deployment | None:
        return self._uow.deployments.get(deployment_id)

    def waiting(self) -> list[Deployment]:
        """The deployments not answered yet, oldest first."""
        return self._uow.deployments.pending()

    def recent(self, limit: int) -> list[Deployment]:
        """The waiting deployments and the most recently answered ones, newest first."""
        return self._uow.deployments.recent(limit)

    def requested(self, asked: DeploymentAsked) -> Deployment | None:
        """Keep a deployment GitHub asks about, pending until `judge` (or the tick) judges it,
        in one unit of work with the mark of its delivery (`X-GitHub-Delivery` in the request
        ledger): a change that fails keeps neither, so GitHub's redelivery is acted on. None if
        the delivery was received already or the deployment asked already (nothing new is
        decided). An environment gobot does not gate is rejected at once, its answer owed."""
        gated = self._environments.get(asked.environment)
        now = self._clock.now()
        deployment = Deployment(
            id=asked.key(),
            delivery=asked.delivery,
            repository=asked.repository,
            environment=asked.environment,
            channel=gated.channel if gated else None,
            scope=self._scope_for(gated.channel) if gated else None,
            step=gated.step if gated else None,
            sha=asked.sha,
            ref=asked.ref,
            creator=asked.creator,
            installation_id=asked.installation_id,
            callback_url=asked.callback_url,
            asked_at_utc=now,
        )
        if gated is None:
            return self._not_gated(deployment, now)
        with self._uow:
            if not self._first(deployment, now):
                return None
            self._uow.commit()
        return deployment

    def _first(self, deployment: Deployment, now: datetime) -> bool:
        """Inside a unit of work: mark the delivery and keep the deployment; False (nothing
        to keep) if either was seen already."""
        delivery = self._uow.requests.first(f"github:{deployment.delivery}", now)
        return delivery and self._uow.deployments.add(deployment)

    def judge(self, deployment_id: str) -> Deployment | None:
        """Judge one waiting deployment now and deliver what that owes (the webhook's work, off
        its request path); the deployment as it is then."""
        owed = self._judge(deployment_id, self._snapshots.health())
        for key in owed or []:
            self._deliverer.deliver(key)
        return self._uow.deployments.get(deployment_id)

    def redecide(self, scope: str | None = None) -> int:
        """Judge every waiting deployment (of `scope`, or every scope) again; how many changed.
        What that owes waits for the tick's delivery. A change is kept and owed once, whichever
        process sees it first; one deployment that fails never keeps the others from being
        judged."""
        waiting = [d for d in self._uow.deployments.pending() if scope in (None, d.scope)]
        if not waiting:
            return 0
        health = self._snapshots.health()
        changed = 0
        for deployment in waiting:
            try:
                changed += self._judge(deployment.id, health) is not None
            except Exception:
                log.exception("deployment %s could not be judged again", deployment.id)
        return changed

    def _judge(self, deployment_id: str, health: HealthStatus) -> list[str] | None:
        """Judge a waiting deployment in one unit of work; the outbox keys owed, or None if
        nothing changed (or it was answered meanwhile, by this process or another)."""
        with self._uow:
            current = self._uow.deployments.get(deployment_id)
            if current is None or current.state != "pending":
                return None
            request = self._request(current)
            decision = self._gate.evaluate(request, health)
            asked = self._gate.ask_approval(request, decision, source=SOURCE, actor=ACTOR)
            owed = self._record(current, decision)
            if owed is None and asked is None:
                return None
            self._uow.commit()
            return [*(owed or []), *([asked] if asked is not None else [])]

    @staticmethod
    def _request(deployment: Deployment) -> GateRequest:
        return GateRequest(
            channel=deployment.channel,
            step=deployment.step,
            environment=deployment.environment[:100],
            ref=deployment.describe()[:200],
            requester=(deployment.creator or "")[:100] or None,
        )

    @staticmethod
    def _outcome(
        deployment: Deployment, decision: GateDecision
    ) -> tuple[DeploymentState, str | None, str]:
        """The deployment's state, the session it waits (or waited) in, and why."""
        bound = deployment.session_id
        if bound is not None and decision.session_id != bound:
            return (
                "rejected",
                bound,
                f"The GO session {bound} ended before this deploy was allowed.",
            )
        if decision.state == "allowed":
            return "approved", decision.session_id, decision.reason
        if decision.state == "pending" or decision.denied_by in ("freeze", "health"):
            return "pending", decision.session_id, decision.reason  # it may clear: it waits
        if decision.session_id is None:
            return "pending", None, WAITING
        return "rejected", decision.session_id, decision.reason

    def _record(self, deployment: Deployment, decision: GateDecision) -> list[str] | None:
        """Inside a unit of work: keep what `decision` makes of the deployment, record it with
        the gate, owe its answer (and the edit of its waiting message, if it was shown) or, the
        first time it waits for a session, its message in the channel; the outbox keys owed,
        or None when there is nothing to keep (no change, or another process answered it
        first)."""
        state, session_id, reason = self._outcome(deployment, decision)
        fresh = deployment.reason is None  # never judged before
        if not fresh and state == "pending" and session_id == deployment.session_id:
            return None
        now = decision.decided_at_utc
        waits = state == "pending" and session_id is None
        shows = waits and self._uow.claims.claim(f"deploy:{deployment.id}:waits", now)
        judged = deployment.model_copy(
            update={
                "state": state,
                "session_id": session_id,
                "reason": reason,
                "decided_at_utc": None if state == "pending" else now,
                "shown": deployment.shown or shows,
            }
        )
        store = self._uow.deployments
        if state == "pending":
            store.put(judged)
        elif not store.settle(judged):
            return None
        recorded = decision.model_copy(
            update={"allowed": state == "approved", "state": GATE_STATE[state], "reason": reason}
        )
        line = self._gate.record(
            self._request(judged), recorded, source=SOURCE, actor=ACTOR, show=not waits
        )
        owed = [line] if line is not None else []
        if shows or (judged.shown and state != "pending"):
            owed.append(self._owe_deploy(judged, now))
        if state != "pending":
            owed.append(self._owe_answer(judged, now))
        return owed

    def _owe_deploy(self, deployment: Deployment, now: datetime) -> str:
        """Its message in its channel: waiting (once), or, answered, that message edited in
        place to say how (keyed alike, so the edit follows the post it edits)."""
        key = f"deploy:{deployment.id}"
        self._uow.outbox.add(
            [
                notice_item(
                    "deploy",
                    DeployPayload(deployment=deployment),
                    key=key,
                    scope=deployment.scope or "",
                    channel=deployment.channel,
                    now=now,
                    item_id=new_item_id(),
                    actor=ACTOR,
                )
            ]
        )
        return key

    def _owe_answer(self, deployment: Deployment, now: datetime) -> str:
        """The answer to GitHub, keyed by the deployment: it is sent once, apart from Slack."""
        key = f"github:{deployment.id}"
        state = "approved" if deployment.state == "approved" else "rejected"
        self._uow.outbox.add(
            [
                notice_item(
                    "github",
                    GithubPayload(
                        deployment_id=deployment.id,
                        callback_url=deployment.callback_url,
                        installation_id=deployment.installation_id,
                        environment=deployment.environment,
                        state=state,
                        comment=deployment.reason or state,
                    ),
                    key=key,
                    scope=deployment.scope or "",
                    channel=None,
                    now=now,
                    item_id=new_item_id(),
                    actor=ACTOR,
                )
            ]
        )
        return key

    def _not_gated(self, deployment: Deployment, now: datetime) -> Deployment | None:
        """An environment gobot does not gate: rejected at once, saying how to gate it."""
        reason = (
            f"gobot gates no environment named {deployment.environment}: add it to "
            "GOBOT_GITHUB_ENVIRONMENTS (environment=CHANNEL[:step])."
        )
        rejected = deployment.model_copy(
            update={"state": "rejected", "reason": reason, "decided_at_utc": now}
        )
        with self._uow:
            if not self._first(rejected, now):
                return None
            self._uow.audit.append(
                AuditEvent(
                    event="GO_GATE_DECIDED",
                    actor=ACTOR,
                    data={
                        "state": "denied",
                        "reason": reason,
                        "requester": deployment.creator,
                        "source": SOURCE,
                        "environment": deployment.environment,
                        "ref": deployment.describe(),
                        "step": None,
                    },
                ),
                now,
            )
            key = self._owe_answer(rejected, now)
            self._uow.commit()
        self._deliverer.deliver(key)
        return rejected


class Redeciding:
    """A deliverer that, once a change's messages are delivered, judges the waiting deployments
    again: a session started or ended, a step was completed, what they wait on may have
    changed. Given to the services whose changes those are, it runs after each commit, once."""

    def __init__(self, inner: Deliverer, redecide: Callable[[], object]) -> None:
        self._inner = inner
        self._redecide = redecide

    def deliver(self, session_id: str) -> Delivery:
        delivery = self._inner.deliver(session_id)
        try:
            self._redecide()
        except Exception:
            log.exception("waiting deployments were not judged again; the tick will")
        return delivery
