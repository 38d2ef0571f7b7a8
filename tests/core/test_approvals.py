"""core/approvals.py: a second operator for the steps of GOBOT_APPROVAL_STEPS and, with
GOBOT_APPROVE_START, for a session's start; asked once, answered once and never by the asker,
each change one unit of work (audit, session, the request and the playbook message owed); on
both stores."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.bootstrap import build_services
from bot.settings import Settings, SettingsError
from core.approvals import OwnApproval
from core.errors import InvalidInput, NoActiveSession, StepBlocked
from core.models import START_APPROVAL, MessageRef
from core.outbox import ApprovalPayload
from core.services import Services
from tests.conftest import audit_records, write_json

REQUEST = MessageRef(channel="C1", ts="1700000000.000200")


@pytest.fixture
def services(make_services: Callable[..., Services], green: Path) -> Services:
    return make_services(approval_steps="migrate,rollout")


def events(services: Services) -> list[str]:
    return [r["event"] for r in audit_records(services)]


def owed(services: Services) -> list[ApprovalPayload]:
    """The approval messages owed, in order."""
    return [
        item.data
        for item in services.outbox.items()
        if item.kind == "approval" and isinstance(item.data, ApprovalPayload)
    ]


def session_id(services: Services) -> str:
    return services.sessions.get("C1").id or ""


def test_completing_a_step_that_needs_approval_asks_once_and_leaves_it_open(
    services: Services,
) -> None:
    services.sessions.start("U0", "C1")
    done = services.playbook.complete("4", "U1", "v42 schema", "C1")
    assert not done.newly and done.asked and not done.item.done
    assert done.waiting is not None and done.waiting.asked_by == "U1"
    assert done.waiting.notes == "v42 schema" and done.waiting.state == "pending"
    again = services.playbook.complete("migrate", "U2", None, "C1")
    assert not again.asked and again.waiting == done.waiting
    assert events(services).count("GO_STEP_APPROVAL_REQUESTED") == 1
    [request] = owed(services)
    assert request.approval.key == "migrate" and request.message is None
    session = services.sessions.get("C1")
    assert "migrate" not in session.playbook
    assert [(e.kind, e.by, e.text) for e in session.timeline] == [
        ("approval", "U1", "asked to approve step 4 (Run data migrations): v42 schema")
    ]
    item = services.playbook.checklist("C1").steps[3]
    assert item.approval is not None and item.approval.asked_by == "U1"
    playbook = [i for i in services.outbox.items() if i.kind == "playbook"]
    assert len(playbook) == 1  # the edit owed replaced the start's, with the request waiting
    assert playbook[0].data.session.approvals["migrate"].state == "pending"  # type: ignore[attr-defined]


def test_the_asker_cannot_answer_and_another_operator_completes_the_step(
    services: Services,
) -> None:
    services.sessions.start("U0", "C1")
    services.playbook.complete("migrate", "U1", "v42", "C1")
    with pytest.raises(OwnApproval, match="another operator"):
        services.approvals.answer(session_id(services), "migrate", by="U1", approve=True)
    answer = services.approvals.answer(
        session_id(services), "migrate", by="U2", approve=True, message=REQUEST
    )
    assert answer.newly and answer.approval.state == "approved"
    assert answer.approval.decided_by == "U2"
    step = services.sessions.get("C1").playbook["migrate"]
    assert (step.completed_by, step.approved_by, step.notes) == ("U1", "U2", "v42")
    item = services.playbook.checklist("C1").steps[3]
    assert item.done and item.approved_by == "U2" and item.approval is None
    assert events(services)[-2:] == ["GO_STEP_APPROVAL_REQUESTED", "GO_STEP_APPROVED"]
    approved = audit_records(services)[-1]
    assert approved["actor"] == "U2"
    assert approved["data"] == {"step": "migrate", "number": 4, "asked_by": "U1"}
    edit = owed(services)[-1]
    assert edit.message == REQUEST and edit.approval.state == "approved"


def test_an_answer_is_given_once(services: Services) -> None:
    services.sessions.start("U0", "C1")
    services.playbook.complete("migrate", "U1", None, "C1")
    first = services.approvals.answer(session_id(services), "migrate", by="U2", approve=True)
    second = services.approvals.answer(session_id(services), "migrate", by="U3", approve=False)
    assert first.newly and not second.newly
    assert second.approval.state == "approved" and second.approval.decided_by == "U2"
    assert events(services).count("GO_STEP_APPROVED") == 1
    assert "GO_STEP_APPROVAL_REJECTED" not in events(services)
    assert len(owed(services)) == 2  # the request and its one answer


def test_a_rejected_step_stays_open_and_can_be_asked_again(services: Services) -> None:
    services.sessions.start("U0", "C1")
    services.playbook.complete("rollout", "U1", None, "C1")
    answer = services.approvals.answer(
        session_id(services), "rollout", by="U2", approve=False, reason="canary still red"
    )
    assert answer.approval.state == "rejected" and answer.approval.reason == "canary still red"
    assert "rollout" not in services.sessions.get("C1").playbook
    rejected = audit_records(services)[-1]
    assert rejected["event"] == "GO_STEP_APPROVAL_REJECTED"
    assert rejected["data"]["reason"] == "canary still red"
    again = services.playbook.complete("rollout", "U3", None, "C1")
    assert again.asked and again.waiting is not None and again.waiting.asked_by == "U3"
    assert events(services).count("GO_STEP_APPROVAL_REQUESTED") == 2


def test_approving_is_refused_while_health_is_red_and_the_request_waits(
    services: Services, data_dir: Path
) -> None:
    services.sessions.start("U0", "C1")
    services.playbook.complete("migrate", "U1", None, "C1")
    write_json(data_dir / "health_status.json", {"status": "red", "reasons": ["db down"]})
    with pytest.raises(StepBlocked, match="still waits"):
        services.approvals.answer(session_id(services), "migrate", by="U2", approve=True)
    assert services.sessions.get("C1").approvals["migrate"].state == "pending"
    assert events(services)[-1] == "GO_STEP_BLOCKED"


def test_a_request_of_an_ended_session_cannot_be_answered(services: Services) -> None:
    services.sessions.start("U0", "C1")
    services.playbook.complete("migrate", "U1", None, "C1")
    old = session_id(services)
    services.sessions.end("U0", "C1")
    services.sessions.start("U0", "C1")
    with pytest.raises(NoActiveSession, match="has ended"):
        services.approvals.answer(old, "migrate", by="U2", approve=True)
    with pytest.raises(InvalidInput, match="No approval was asked"):
        services.approvals.answer(session_id(services), "migrate", by="U2", approve=True)


def test_the_gate_can_ask_inside_its_own_unit_of_work(services: Services) -> None:
    """`ask` joins the caller's unit of work: nothing of it is kept unless the caller commits."""
    services.sessions.start("U0", "C1")
    uow = services.sessions._uow  # the services' one unit of work, as the gate holds it
    with pytest.raises(RuntimeError), uow:
        services.approvals.ask(services.sessions.get("C1"), "rollout", by="ci")
        raise RuntimeError("the caller fails")
    assert services.sessions.get("C1").approvals == {}
    assert "GO_STEP_APPROVAL_REQUESTED" not in events(services)
    with uow:
        asked, newly = services.approvals.ask(services.sessions.get("C1"), "rollout", by="ci")
        uow.commit()
    assert newly and asked.approvals["rollout"].asked_by == "ci"
    assert services.sessions.get("C1").approvals["rollout"].state == "pending"


def test_a_start_that_needs_approval_waits_and_goes_on_once_approved(
    make_services: Callable[..., Services], green: Path
) -> None:
    services = make_services(approve_start=True)
    change = services.sessions.start("U1", "C1", "release 42")
    assert change.session.active
    assert change.session.approvals[START_APPROVAL].state == "pending"
    [request] = owed(services)
    assert request.approval.key == START_APPROVAL and request.approval.notes == "release 42"
    with pytest.raises(InvalidInput, match="waits for a second operator"):
        services.playbook.complete("1", "U1", None, "C1")
    answer = services.approvals.answer(session_id(services), START_APPROVAL, by="U2", approve=True)
    assert answer.newly and answer.what == "the GO session's start"
    approved = audit_records(services)[-1]
    assert approved["event"] == "GO_STEP_APPROVED" and approved["data"]["step"] == "@start"
    assert services.playbook.complete("1", "U1", None, "C1").newly


def test_a_rejected_start_ends_the_session_aborted(
    make_services: Callable[..., Services], green: Path
) -> None:
    services = make_services(approve_start=True)
    services.sessions.start("U1", "C1")
    answer = services.approvals.answer(
        session_id(services), START_APPROVAL, by="U2", approve=False, reason="not today"
    )
    ended = services.sessions.get("C1")
    assert answer.newly and not ended.active and ended.outcome == "aborted"
    assert ended.ended_by == "U2" and ended.end_notes == "Start rejected by U2: not today"
    assert events(services)[-2:] == ["GO_STEP_APPROVAL_REJECTED", "GO_SESSION_END"]
    kinds = [item.kind for item in services.outbox.items()]
    assert kinds[-3:] == ["approval", "ended", "playbook"]


def test_an_unknown_approval_step_fails_at_start_naming_the_steps(
    data_dir: Path, store_settings: dict[str, Any], green: Path
) -> None:
    settings = Settings(data_dir=data_dir, approval_steps="migrate,rolout", **store_settings)
    with pytest.raises(SettingsError) as caught:
        build_services(settings)
    message = str(caught.value)
    assert "\n" not in message and "GOBOT_APPROVAL_STEPS" in message and "'rolout'" in message
    assert "health, freeze, backup, migrate, canary, canary-check, rollout, smoke" in message


def test_a_reopened_approved_step_needs_approval_again(services: Services) -> None:
    services.sessions.start("U0", "C1")
    services.playbook.complete("migrate", "U1", None, "C1")
    services.approvals.answer(session_id(services), "migrate", by="U2", approve=True)
    services.playbook.reopen("migrate", "U1", "C1")
    assert services.playbook.checklist("C1").steps[3].approval is None
    again = services.playbook.complete("migrate", "U1", None, "C1")
    assert again.asked and not again.item.done
