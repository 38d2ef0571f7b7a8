"""The deployment store's queries shaped like their uses (a session's deployments, the recent
ones), on every store; and the JSON store's hot file, which holds only what waits."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from core.gate_models import Deployment
from core.ports import UnitOfWork
from core.stores.json import JsonUnitOfWork
from core.stores.json.deployments import ANSWERED_FILE, ANSWERED_KEPT, DEPLOYMENTS_FILE
from tests.conftest import T0
from tests.core.stores.test_contract import deployment
from tests.units import committing


def answer(uow: UnitOfWork, waiting: Deployment, session_id: str, minutes: int) -> Deployment:
    answered = waiting.model_copy(
        update={
            "state": "approved",
            "session_id": session_id,
            "decided_at_utc": waiting.asked_at_utc + timedelta(minutes=minutes),
        }
    )
    with uow:
        assert uow.deployments.settle(answered)
        uow.commit()
    return answered


def test_a_sessions_deployments_and_the_recent_ones(uow: UnitOfWork) -> None:
    asked = [deployment(f"d{n}", T0 + timedelta(minutes=n)) for n in range(5)]
    for one in asked:
        assert uow.deployments.add(one)
    first = answer(uow, asked[0], "s1", 1)
    second = answer(uow, asked[1], "s2", 1)
    third = answer(uow, asked[2], "s1", 1)
    in_s2 = asked[3].model_copy(update={"session_id": "s2", "reason": "step 3 not reached"})
    uow.deployments.put(in_s2)

    assert uow.deployments.by_session("s1") == [first, third]
    assert uow.deployments.by_session("s2") == [second, in_s2]
    assert uow.deployments.by_session("s9") == []
    assert uow.deployments.recent(10) == [asked[4], in_s2, third, second, first]
    assert uow.deployments.recent(3) == [asked[4], in_s2, third]  # the waiting ones first
    assert uow.deployments.recent(1) == [asked[4]]
    assert uow.deployments.recent(0) == []


def test_the_json_hot_file_holds_only_what_waits(data_dir: Path) -> None:
    uow = committing(JsonUnitOfWork(data_dir))
    old, recent, waiting = (
        deployment(name, T0 + timedelta(minutes=n)) for n, name in enumerate(("old", "new", "w"))
    )
    for one in (old, recent, waiting):
        uow.deployments.add(one)
    answer(uow, old, "s1", 1)
    hot = json.loads((data_dir / DEPLOYMENTS_FILE).read_text())
    assert set(hot) == {"new", "w"}
    assert set(json.loads((data_dir / ANSWERED_FILE).read_text())) == {"old"}

    later = recent.model_copy(update={"asked_at_utc": T0 + ANSWERED_KEPT + timedelta(days=1)})
    uow.deployments.put(later)
    answer(uow, later, "s2", 1)  # answered past the 90 days of `old`: old is dropped
    assert set(json.loads((data_dir / ANSWERED_FILE).read_text())) == {"new"}
    assert [d.id for d in uow.deployments.pending()] == ["w"]
    assert uow.deployments.get("old") is None and uow.deployments.get("new") is not None

    (data_dir / ANSWERED_FILE).write_text("not json")  # never read on the hot path
    assert [d.id for d in uow.deployments.pending()] == ["w"]


def test_answered_deployments_an_earlier_version_kept_hot_move_out(data_dir: Path) -> None:
    uow = committing(JsonUnitOfWork(data_dir))
    done = deployment("done").model_copy(update={"state": "rejected", "decided_at_utc": T0})
    first, second = deployment("a"), deployment("b", T0 + timedelta(minutes=1))
    legacy = {d.id: d.model_dump(mode="json") for d in (done, first, second)}
    (data_dir / DEPLOYMENTS_FILE).write_text(json.dumps(legacy))
    assert [d.id for d in uow.deployments.pending()] == ["a", "b"]
    assert uow.deployments.get("done") == done

    answer(uow, first, "s1", 1)
    assert set(json.loads((data_dir / DEPLOYMENTS_FILE).read_text())) == {"b"}
    assert set(json.loads((data_dir / ANSWERED_FILE).read_text())) == {"a", "done"}
