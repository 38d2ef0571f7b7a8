from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from core.clock import parse_utc
from core.errors import InvalidInput, NoActiveSession, StepBlocked, UnknownStep
from core.models import ChecklistItem
from core.playbook import DEFAULT_STEPS
from core.services import Services
from tests.conftest import audit_records, write_json


def events(services: Services) -> list[str]:
    return [r["event"] for r in audit_records(services) if r["event"] != "GO_SESSION_START"]


@pytest.fixture(autouse=True)
def active(services: Services) -> None:
    """The playbook runs with a session: each test's starts here."""
    services.sessions.start("U0", "C1", "")


def complete(
    services: Services, ref: str, actor: str, notes: str | None = None, channel: str | None = None
) -> tuple[ChecklistItem, bool]:
    done = services.playbook.complete(ref, actor, notes, channel)
    return done.item, done.newly


def test_default_checklist_has_nine_pending_steps(services: Services) -> None:
    checklist = services.playbook.checklist()
    assert checklist.total == 9 and checklist.completed == 0
    assert [item.number for item in checklist.steps] == list(range(1, 10))
    assert [item.id for item in checklist.steps] == [step.id for step in DEFAULT_STEPS]
    assert not any(item.done for item in checklist.steps)


def test_complete_by_number_or_id_and_next_step_moves(services: Services, data_dir: Path) -> None:
    assert services.playbook.next_step().step is not None
    item, newly = complete(services, "1", "U1", "checked", channel="C1")
    assert newly and item.done and item.completed_by == "U1" and item.notes == "checked"
    assert item.completed_at_utc == parse_utc("2026-01-01T09:00:00.000000Z")
    item, newly = complete(services, " FREEZE ", "U2")
    assert newly and item.number == 2
    nxt = services.playbook.next_step()
    assert nxt.step is not None and nxt.step.number == 3 and nxt.completed == 2
    assert {i.id for i in services.playbook.checklist().steps if i.done} == {"health", "freeze"}
    assert events(services) == ["GO_STEP_COMPLETE", "GO_STEP_COMPLETE"]


def test_completing_a_done_step_is_idempotent(services: Services, data_dir: Path) -> None:
    first, _ = complete(services, "3", "U1", "first")
    write_json(data_dir / "health_status.json", {"status": "red", "reasons": ["down"]})
    again, newly = complete(services, "backup", "U2", "second")
    assert not newly
    assert again == first
    assert events(services) == ["GO_STEP_COMPLETE"]


def test_out_of_order_completion_leaves_next_step_on_the_first_gap(services: Services) -> None:
    complete(services, "2", "U1")
    nxt = services.playbook.next_step()
    assert nxt.step is not None and nxt.step.number == 1


def test_whole_playbook_done(services: Services) -> None:
    for number in range(1, 10):
        complete(services, str(number), "U1")
    nxt = services.playbook.next_step()
    assert nxt.done and nxt.step is None and nxt.completed == nxt.total == 9


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        (
            {"status": "red", "reasons": ["db down", "queue full"]},
            "health is red (db down; queue full)",
        ),
        ({"status": "unknown", "reasons": []}, "health is unknown (no reason given)"),
        ("not json", "health is unknown (health source failed: invalid JSON"),
    ],
)
def test_completion_refused_while_health_is_red_or_unknown(
    services: Services, data_dir: Path, health: object, expected: str
) -> None:
    path = data_dir / "health_status.json"
    if isinstance(health, str):
        path.write_text(health)
    else:
        write_json(path, health)
    with pytest.raises(StepBlocked) as raised:
        complete(services, "1", "U1", channel="C9")
    assert expected in raised.value.message
    assert "Step 1" in raised.value.message
    assert services.playbook.checklist().completed == 0
    blocked = audit_records(services)[-1]
    assert blocked["event"] == "GO_STEP_BLOCKED"
    assert blocked["actor"] == "U1" and blocked["channel"] == "C9"
    assert blocked["data"]["step"] == "health"


def test_completion_allowed_while_yellow(services: Services, data_dir: Path) -> None:
    write_json(data_dir / "health_status.json", {"status": "yellow", "reasons": ["slow"]})
    _, newly = complete(services, "1", "U1")
    assert newly


@pytest.mark.parametrize("ref", ["0", "10", "nope", "", "-1"])
def test_unknown_step_lists_the_valid_ones(services: Services, ref: str) -> None:
    with pytest.raises(UnknownStep, match="from 1 to 9"):
        complete(services, ref, "U1")


def test_reset_clears_progress_and_is_audited(services: Services, data_dir: Path) -> None:
    complete(services, "1", "U1")
    checklist = services.playbook.reset("UADMIN", channel="C1")
    assert checklist.completed == 0
    assert events(services)[-1] == "GO_PLAYBOOK_RESET"


def test_playbook_override_file(make_services: Callable[..., Services], green: Path) -> None:
    write_json(
        green / "go_playbook.json",
        {"steps": [{"id": "one", "title": "First"}, {"id": "two", "title": "Second"}]},
    )
    checklist = make_services().playbook.checklist()
    assert [(i.number, i.id, i.title) for i in checklist.steps] == [
        (1, "one", "First"),
        (2, "two", "Second"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        (json.dumps({"steps": []}), "no steps"),
        (
            json.dumps({"steps": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]}),
            "duplicate",
        ),
        (json.dumps([{"id": "Bad Id", "title": "x"}]), "valid list of steps"),
    ],
)
def test_bad_playbook_override_is_a_clear_error(
    make_services: Callable[..., Services], green: Path, content: str, message: str
) -> None:
    (green / "go_playbook.json").write_text(content)
    with pytest.raises(InvalidInput, match=message):
        make_services()


def test_completing_needs_an_active_session_and_each_session_starts_afresh(
    services: Services,
) -> None:
    complete(services, "1", "U1")
    first = services.sessions.end("U1", "C1", "").session
    assert [step for step in first.playbook] == ["health"]  # history keeps the run
    with pytest.raises(NoActiveSession, match="start one with `/go-start` first"):
        services.playbook.complete("2", "U1")
    template = services.playbook.checklist()
    assert not template.session_active and template.completed == 0
    services.sessions.start("U1", "C1", "again")
    assert services.playbook.checklist().completed == 0  # a fresh run
    assert services.sessions.history(1)[0].playbook["health"].completed_by == "U1"


def test_a_step_done_by_mistake_can_be_reopened_and_it_is_audited(services: Services) -> None:
    done = services.playbook.complete("6", "U1")
    assert done.newly and done.skipped == [1, 2, 3, 4, 5]
    item = services.playbook.reopen("6", "U2", channel="C1").item
    assert not item.done and services.playbook.checklist().completed == 0
    reopened = audit_records(services)[-1]
    assert reopened["event"] == "GO_STEP_REOPENED" and reopened["data"]["was_done_by"] == "U1"
    with pytest.raises(InvalidInput, match="not done"):
        services.playbook.reopen("6", "U2")


def test_in_channel_scope_each_channel_runs_its_own(
    make_services: Callable[..., Services],
) -> None:
    services = make_services(session_scope="channel")
    for channel in ("C7", "C8"):
        services.sessions.start("U1", channel, "")
    services.playbook.complete("1", "U1", channel="C7")
    assert services.playbook.checklist("C7").completed == 1
    assert services.playbook.checklist("C8").completed == 0
