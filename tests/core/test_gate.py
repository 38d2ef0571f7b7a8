"""core/gate.py: the gate's judgement (denied, pending, allowed, each with its reason), its
audit record for every decision, and one line per request and state (on the session's timeline
and thread, or in the channel with no session), never one per poll; on both stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.approvals import OwnApproval
from core.errors import InvalidInput, UnknownStep
from core.gate import MAX_GATE_LINES, judge
from core.gate_models import GateDecision, GateRequest
from core.models import (
    START_APPROVAL,
    Approval,
    FreezeOverride,
    GoSession,
    GoWindow,
    HealthStatus,
    StepCompletion,
)
from core.outbox import GatePayload
from core.playbook import DEFAULT_STEPS
from core.services import Services
from core.windows import freeze_in_force
from tests.conftest import T0, FakeClock, audit_records, write_json
from tests.units import committing

PROD = GateRequest(environment="production", ref="main", requester="ci")
GREEN = HealthStatus(status="green")
DONE = StepCompletion(completed_at_utc=T0, completed_by="U1")


def gate_records(services: Services) -> list[dict[str, Any]]:
    return [r for r in audit_records(services) if r["event"] == "GO_GATE_DECIDED"]


def owed(services: Services, clock: FakeClock) -> list[tuple[str, Any]]:
    """(kind, payload) of every message owed, in order, taken off the outbox as if sent."""
    found: list[tuple[str, Any]] = []
    while ready := services.outbox.ready(clock.now()):
        for item in ready:
            committing(services.uow).outbox.done(item)
            found.append((item.kind, item.data))
    return found


def set_health(data_dir: Path, status: str, *reasons: str) -> None:
    write_json(data_dir / "health_status.json", {"status": status, "reasons": list(reasons)})


def test_no_session_denies_and_says_how_to_open_one(services: Services, clock: FakeClock) -> None:
    decision = services.gate.decide(PROD, source="rest", actor="rest-api")
    assert (decision.allowed, decision.state, decision.session_id) == (False, "denied", None)
    assert "No GO session is active" in decision.reason and "/go-start" in decision.reason
    assert decision.health == "green" and decision.playbook is None
    [record] = gate_records(services)
    assert record["data"] == {
        "state": "denied",
        "reason": decision.reason,
        "requester": "ci",
        "source": "rest",
        "environment": "production",
        "ref": "main",
        "step": None,
    }


def test_no_session_line_goes_to_the_default_channel_once_per_state(
    make_services: Callable[..., Services], green: Path, clock: FakeClock
) -> None:
    services = make_services(channel="C0OPS")
    services.outbox.ready(clock.now())  # nothing owed before
    for _ in range(3):  # a pipeline polling while it waits
        services.gate.decide(PROD, source="cli", actor="cli")
    [(kind, payload)] = owed(services, clock)
    assert kind == "gate" and isinstance(payload, GatePayload)
    assert (payload.request, payload.decision.state) == (PROD, "denied")
    assert len(gate_records(services)) == 3  # every decision is audited


def test_allowed_in_an_active_session_with_its_band_health_and_progress(
    services: Services, clock: FakeClock
) -> None:
    session = services.sessions.start("U1", "C1").session
    services.playbook.complete("1", "U1")
    decision = services.gate.decide(PROD, source="rest", actor="rest-api")
    assert (decision.allowed, decision.state) == (True, "allowed")
    assert (decision.session_id, decision.band, decision.health) == (session.id, "A", "green")
    assert decision.playbook is not None
    assert (decision.playbook.completed, decision.playbook.total) == (1, len(DEFAULT_STEPS))
    assert decision.playbook.next_step == DEFAULT_STEPS[1].id
    assert session.id is not None and session.id in decision.reason


def test_one_timeline_entry_and_thread_line_per_request_and_state(
    services: Services, clock: FakeClock, data_dir: Path
) -> None:
    services.sessions.start("U1", "C1")
    assert [kind for kind, _ in owed(services, clock)] == ["snapshot", "playbook"]
    for _ in range(3):
        services.gate.decide(PROD, source="cli", actor="cli")
    services.gate.decide(PROD.model_copy(update={"ref": "v2"}), source="cli", actor="cli")
    set_health(data_dir, "red", "db down")
    services.gate.decide(PROD, source="cli", actor="cli")
    services.gate.decide(PROD, source="cli", actor="cli")
    session = services.sessions.get("C1")
    gates = [e for e in session.timeline if e.kind == "gate"]
    assert [e.text.split(": ")[1].split(".")[0] for e in gates] == [
        "allowed",
        "allowed",
        "denied",
    ]
    assert gates[0].text.startswith("deploy of main to production: allowed. GO session")
    assert gates[0].by == "cli:ci"  # a pipeline, never taken for a person
    assert [kind for kind, _ in owed(services, clock)] == ["timeline"] * 3
    assert len(gate_records(services)) == 6


def test_health_red_or_unknown_denies_with_the_reasons(services: Services, data_dir: Path) -> None:
    services.sessions.start("U1", "C1")
    set_health(data_dir, "red", "db down", "queue backlog")
    decision = services.gate.decide(PROD, source="rest", actor="rest-api")
    assert decision.state == "denied"
    assert decision.reason == "Health is red (db down; queue backlog)."
    (data_dir / "health_status.json").unlink()
    assert services.gate.evaluate(PROD).state == "denied"
    assert services.gate.evaluate(PROD).health == "unknown"


def test_a_step_is_pending_until_every_earlier_step_is_done(services: Services) -> None:
    services.sessions.start("U1", "C1")
    ask = PROD.model_copy(update={"step": "canary"})
    first = services.gate.evaluate(ask)
    assert (first.state, first.step) == ("pending", "canary")
    assert first.reason == (
        "Step 5 (Deploy to canary) is not reached yet: step 1 "
        "(Confirm cone band and health) is not done."
    )
    for number in range(1, 5):
        services.playbook.complete(str(number), "U1")
    assert services.gate.evaluate(ask).state == "allowed"
    assert services.gate.evaluate(PROD.model_copy(update={"step": "5"})).state == "allowed"


def test_an_unknown_step_is_a_usage_error(services: Services) -> None:
    with pytest.raises(UnknownStep, match="There is no step 'nope'"):
        services.gate.decide(PROD.model_copy(update={"step": "nope"}), source="cli", actor="cli")
    assert gate_records(services) == []


def test_channel_scope_needs_a_channel(make_services: Callable[..., Services], green: Path) -> None:
    services = make_services(session_scope="channel")
    with pytest.raises(InvalidInput, match="name a channel"):
        services.gate.decide(PROD, source="cli", actor="cli")
    services.sessions.start("U1", "C1")
    in_c1 = PROD.model_copy(update={"channel": "C1"})
    assert services.gate.decide(in_c1, source="cli", actor="cli").state == "allowed"
    in_c2 = PROD.model_copy(update={"channel": "C2"})
    assert services.gate.decide(in_c2, source="cli", actor="cli").state == "denied"


def freeze(clock: FakeClock, **update: Any) -> GoWindow:
    fields: dict[str, Any] = {
        "id": "f1",
        "kind": "freeze",
        "scope": "workspace",
        "channel": "C1",
        "starts_at_utc": clock.now() - timedelta(hours=1),
        "duration_seconds": int(timedelta(days=3).total_seconds()),
        "notes": "holiday freeze",
        "scheduled_by": "U9",
    }
    return GoWindow(**{**fields, **update})


def judged(services: Services, clock: FakeClock, session: GoSession, **given: Any) -> GateDecision:
    """The judgement of `session` with the steps of `services`, green unless told."""
    return judge(
        session=session,
        health=given.get("health", GREEN),
        freeze=given.get("freeze"),
        steps=services.playbook.steps,
        step=services.playbook.resolve(given["step"]) if "step" in given else None,
        approval_steps=given.get("approval_steps", frozenset()),
        now=clock.now(),
    )


def test_a_freeze_in_force_denies_unless_the_session_overrode_that_freeze(
    services: Services, clock: FakeClock
) -> None:
    session = services.sessions.start("U1", "C1").session
    held = freeze(clock)
    decision = judged(services, clock, session, freeze=held)
    assert (decision.state, decision.freeze_id) == ("denied", "f1")
    assert decision.reason == (
        "A change freeze is in force until 2026-01-04T08:00:00Z: holiday freeze (freeze f1)."
    )
    override = FreezeOverride(freeze_id="f1", by="UADMIN", reason="hotfix", at_utc=T0)
    overridden = session.model_copy(update={"freeze_override": override})
    assert judged(services, clock, overridden, freeze=held).state == "allowed"
    other = held.model_copy(update={"id": "f2"})
    assert judged(services, clock, overridden, freeze=other).state == "denied"


def test_only_a_scheduled_freeze_of_the_scope_holds_and_only_while_it_runs(
    clock: FakeClock,
) -> None:
    now = clock.now()
    held = freeze(clock)
    assert freeze_in_force([held], "workspace", now) == held
    assert freeze_in_force([held], "channel:C2", now) is None
    assert (
        freeze_in_force([held.model_copy(update={"status": "cancelled"})], "workspace", now) is None
    )
    assert freeze_in_force([held.model_copy(update={"kind": "window"})], "workspace", now) is None
    later = held.model_copy(update={"starts_at_utc": now + timedelta(minutes=1)})
    assert freeze_in_force([later], "workspace", now) is None
    assert freeze_in_force([held], "workspace", held.ends_at_utc) is None
    longer = held.model_copy(update={"id": "f2", "duration_seconds": held.duration_seconds * 2})
    assert freeze_in_force([held, longer], "workspace", now) == longer


def test_a_start_waiting_for_approval_is_pending(services: Services, clock: FakeClock) -> None:
    session = services.sessions.start("U1", "C1").session
    waiting = Approval(key=START_APPROVAL, asked_by="U1", asked_at_utc=clock.now())
    asked = session.model_copy(update={"approvals": {START_APPROVAL: waiting}})
    decision = judged(services, clock, asked)
    assert decision.state == "pending"
    assert decision.reason == (
        "The GO session's start, asked by U1, waits for a second operator's approval."
    )
    approved = waiting.model_copy(update={"state": "approved", "decided_by": "U2"})
    done = session.model_copy(update={"approvals": {START_APPROVAL: approved}})
    assert judged(services, clock, done).state == "allowed"


def test_an_approval_step_is_pending_until_approved_and_denied_once_rejected(
    services: Services, clock: FakeClock
) -> None:
    session = services.sessions.start("U1", "C1").session
    ready = session.model_copy(
        update={"playbook": {s.id: DONE for s in services.playbook.steps[:3]}}
    )
    needs = frozenset({"migrate"})
    decision = judged(services, clock, ready, step="migrate", approval_steps=needs)
    assert decision.state == "pending"
    assert decision.reason == "Step 4 (Run data migrations) waits for a second operator's approval."
    rejected = Approval(
        key="migrate",
        asked_by="U1",
        asked_at_utc=T0,
        state="rejected",
        decided_by="U2",
        reason="not today",
    )
    no = ready.model_copy(update={"approvals": {"migrate": rejected}})
    refused = judged(services, clock, no, step="migrate", approval_steps=needs)
    assert (refused.state, refused.reason) == (
        "denied",
        "Step 4 (Run data migrations) was rejected by U2: not today",
    )
    approved = ready.model_copy(
        update={
            "playbook": {**ready.playbook, "migrate": DONE.model_copy(update={"approved_by": "U2"})}
        }
    )
    assert judged(services, clock, approved, step="migrate", approval_steps=needs).allowed


def test_health_given_is_not_read_again(services: Services) -> None:
    services.sessions.start("U1", "C1")
    read = services.gate.evaluate(PROD, HealthStatus(status="yellow", reasons=["slow"]))
    assert (read.state, read.health) == ("allowed", "yellow")


def test_waiting_on_an_approval_step_asks_for_it_once_and_allows_once_approved(
    make_services: Callable[..., Services], green: Path, clock: FakeClock
) -> None:
    services = make_services(approval_steps="migrate")
    session = services.sessions.start("U1", "C1").session
    for number in ("1", "2", "3"):
        services.playbook.complete(number, "U1")
    ask = PROD.model_copy(update={"step": "migrate"})
    for _ in range(3):  # a pipeline polling
        decision = services.gate.decide(ask, source="cli", actor="cli")
        assert (decision.state, decision.waiting_on) == ("pending", "approval")
    asked = services.sessions.get().approvals["migrate"]
    assert (asked.asked_by, asked.state) == ("cli:ci", "pending")
    assert asked.notes == "asked by the GO gate for a deploy of main to production (step migrate)"
    requested = [r for r in audit_records(services) if r["event"] == "GO_STEP_APPROVAL_REQUESTED"]
    assert len(requested) == 1
    services.approvals.answer(session.id or "", "migrate", by="U2", approve=True)
    assert services.gate.decide(ask, source="cli", actor="cli").allowed
    done = services.sessions.get().playbook["migrate"]
    assert (done.completed_by, done.approved_by) == ("cli:ci", "U2")


def test_a_rejected_approval_denies_and_the_gate_does_not_ask_again(
    make_services: Callable[..., Services], green: Path, clock: FakeClock
) -> None:
    services = make_services(approval_steps="health")
    session = services.sessions.start("U1", "C1").session
    ask = PROD.model_copy(update={"step": "health"})
    assert services.gate.decide(ask, source="cli", actor="cli").state == "pending"
    services.approvals.answer(session.id or "", "health", by="U2", approve=False, reason="no")
    refused = services.gate.decide(ask, source="cli", actor="cli")
    assert (refused.state, refused.reason) == (
        "denied",
        "Step 1 (Confirm cone band and health) was rejected by U2: no",
    )
    assert services.sessions.get().approvals["health"].state == "rejected"


def test_a_pipelines_ask_is_answered_by_an_operator_other_than_the_sessions_owner(
    make_services: Callable[..., Services], green: Path, clock: FakeClock
) -> None:
    """A pipeline is nobody's second pair of eyes: the operator who owns the session cannot
    approve what a pipeline (the gate, or REST with the API key) asked in it, and a requester
    that looks like a Slack user ID is not taken for that person."""
    services = make_services(approval_steps="migrate,rollout")
    session = services.sessions.start("U1", "C1").session
    for number in ("1", "2", "3"):
        services.playbook.complete(number, "U1")
    impostor = PROD.model_copy(update={"step": "migrate", "requester": "U2"})
    services.gate.decide(impostor, source="rest", actor="ops-pipeline")
    assert services.sessions.get().approvals["migrate"].asked_by == "rest:U2"
    with pytest.raises(OwnApproval, match=r"A pipeline \(rest:U2\) asked for this approval"):
        services.approvals.answer(session.id or "", "migrate", by="U1", approve=True)
    services.approvals.answer(session.id or "", "migrate", by="U2", approve=True)  # not locked out
    for number in ("5", "6"):
        services.playbook.complete(number, "U1")
    services.playbook.complete("rollout", "ops-pipeline")  # REST's complete, as the API key
    with pytest.raises(OwnApproval):
        services.approvals.answer(session.id or "", "rollout", by="U1", approve=True)
    services.approvals.answer(session.id or "", "rollout", by="U3", approve=True)
    assert services.sessions.get().playbook["rollout"].approved_by == "U3"


def test_gate_lines_never_crowd_out_what_people_add(services: Services, clock: FakeClock) -> None:
    services.sessions.start("U1", "C1")
    for n in range(MAX_GATE_LINES + 5):  # distinct requests: each would show once
        services.gate.decide(PROD.model_copy(update={"ref": f"v{n}"}), source="cli", actor="ci")
    timeline = services.sessions.get().timeline
    assert sum(e.kind == "gate" for e in timeline) == MAX_GATE_LINES
    assert len(gate_records(services)) == MAX_GATE_LINES + 5  # every decision is audited
    assert services.workspace.note("U1", "C1", "still room for people").newly
