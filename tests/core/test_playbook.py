from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from core.clock import parse_utc
from core.errors import InvalidInput, StepBlocked, UnknownStep
from core.playbook import DEFAULT_STEPS
from core.services import Services
from tests.conftest import audit_records, write_json


def events(services: Services) -> list[str]:
    return [record["event"] for record in audit_records(services)]


def test_default_checklist_has_nine_pending_steps(services: Services) -> None:
    checklist = services.playbook.checklist()
    assert checklist.total == 9 and checklist.completed == 0
    assert [item.number for item in checklist.steps] == list(range(1, 10))
    assert [item.id for item in checklist.steps] == [step.id for step in DEFAULT_STEPS]
    assert not any(item.done for item in checklist.steps)


def test_complete_by_number_or_id_and_next_step_moves(services: Services, data_dir: Path) -> None:
    assert services.playbook.next_step().step is not None
    item, newly = services.playbook.complete("1", "U1", "checked", channel="C1")
    assert newly and item.done and item.completed_by == "U1" and item.notes == "checked"
    assert item.completed_at_utc == parse_utc("2026-01-01T09:00:00.000000Z")
    item, newly = services.playbook.complete(" FREEZE ", "U2")
    assert newly and item.number == 2
    nxt = services.playbook.next_step()
    assert nxt.step is not None and nxt.step.number == 3 and nxt.completed == 2
    assert {i.id for i in services.playbook.checklist().steps if i.done} == {"health", "freeze"}
    assert events(services) == ["GO_STEP_COMPLETE", "GO_STEP_COMPLETE"]


def test_completing_a_done_step_is_idempotent(services: Services, data_dir: Path) -> None:
    first, _ = services.playbook.complete("3", "U1", "first")
    write_json(data_dir / "health_status.json", {"status": "red", "reasons": ["down"]})
    again, newly = services.playbook.complete("backup", "U2", "second")
    assert not newly
    assert again == first
    assert events(services) == ["GO_STEP_COMPLETE"]


def test_out_of_order_completion_leaves_next_step_on_the_first_gap(services: Services) -> None:
    services.playbook.complete("2", "U1")
    nxt = services.playbook.next_step()
    assert nxt.step is not None and nxt.step.number == 1


def test_whole_playbook_done(services: Services) -> None:
    for number in range(1, 10):
        services.playbook.complete(str(number), "U1")
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
        services.playbook.complete("1", "U1", channel="C9")
    assert expected in raised.value.message
    assert "Step 1" in raised.value.message
    assert services.playbook.checklist().completed == 0
    blocked = audit_records(services)[-1]
    assert blocked["event"] == "GO_STEP_BLOCKED"
    assert blocked["actor"] == "U1" and blocked["channel"] == "C9"
    assert blocked["data"]["step"] == "health"


def test_completion_allowed_while_yellow(services: Services, data_dir: Path) -> None:
    write_json(data_dir / "health_status.json", {"status": "yellow", "reasons": ["slow"]})
    _, newly = services.playbook.complete("1", "U1")
    assert newly


@pytest.mark.parametrize("ref", ["0", "10", "nope", "", "-1"])
def test_unknown_step_lists_the_valid_ones(services: Services, ref: str) -> None:
    with pytest.raises(UnknownStep, match="from 1 to 9"):
        services.playbook.complete(ref, "U1")


def test_reset_clears_progress_and_is_audited(services: Services, data_dir: Path) -> None:
    services.playbook.complete("1", "U1")
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
