"""core/stores/json/outbox.py: the items a session owes are one queue file, written once per
change; items an earlier version wrote one file each are still read, handed out first, and
go as they are delivered."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from core.ids import time_ordered_id
from core.models import GoSession
from core.outbox import Kind, OutboxItem, SessionPayload, outbox_item
from core.stores.json import JsonUnitOfWork
from core.stores.json.outbox import OUTBOX_DIR
from tests.conftest import T0

Result = TypeVar("Result")


def kept(uow: JsonUnitOfWork, change: Callable[[], Result]) -> Result:
    with uow:
        result = change()
        uow.commit()
    return result


def owed(session: GoSession, kind: Kind, at: datetime = T0) -> OutboxItem:
    return outbox_item(kind, SessionPayload(session=session), at, item_id=uuid.uuid4().hex)


def session() -> GoSession:
    return GoSession(active=True, id=time_ordered_id(T0), scope="workspace", started_at_utc=T0)


def test_the_items_a_change_owes_are_one_file_of_their_session(tmp_path: Path) -> None:
    uow, one, two = JsonUnitOfWork(tmp_path), session(), session()
    items = [owed(one, "snapshot"), owed(one, "playbook"), owed(two, "snapshot")]
    kept(uow, lambda: uow.outbox.add(items))
    files = sorted(path.name for path in (tmp_path / OUTBOX_DIR).glob("*.json"))
    assert files == sorted([f"q-{one.id}.json", f"q-{two.id}.json"])
    queue = json.loads((tmp_path / OUTBOX_DIR / f"q-{one.id}.json").read_text())
    assert [raw["kind"] for raw in queue] == ["snapshot", "playbook"]
    kept(uow, lambda: uow.outbox.done(items[0]))
    kept(uow, lambda: uow.outbox.done(items[1]))
    assert not (tmp_path / OUTBOX_DIR / f"q-{one.id}.json").exists()  # emptied: gone
    assert [item.id for item in uow.outbox.items()] == [items[2].id]


def test_items_written_one_file_each_go_first_and_are_delivered_in_place(tmp_path: Path) -> None:
    uow, one = JsonUnitOfWork(tmp_path), session()
    old = [owed(one, "snapshot"), owed(one, "playbook")]
    (tmp_path / OUTBOX_DIR).mkdir()
    for seq, item in enumerate(old, start=1):  # as the earlier version wrote them
        item.seq = seq
        name = f"{seq:020d}.{item.session_id}.{item.kind}.{item.id}.json"
        (tmp_path / OUTBOX_DIR / name).write_text(item.model_dump_json())
    new = owed(one, "ended")
    kept(uow, lambda: uow.outbox.add([new]))

    assert [item.id for item in uow.outbox.items()] == [old[0].id, old[1].id, new.id]
    assert uow.outbox.depth() == 3
    assert [item.id for item in uow.outbox.ready(T0)] == [old[0].id]
    taken = kept(uow, lambda: uow.outbox.lease(old[0], T0, T0 + timedelta(seconds=30)))
    assert taken is not None and taken.attempts == 1
    assert uow.outbox.ready_of(one.id or "", T0) is None  # its head is being sent
    kept(uow, lambda: uow.outbox.done(taken))
    head = uow.outbox.ready_of(one.id or "", T0)
    assert head is not None and head.id == old[1].id
    assert kept(uow, lambda: uow.outbox.drop(one.id or "", ("playbook",), T0)) == 1
    assert [item.id for item in uow.outbox.ready(T0)] == [new.id]
    kept(uow, lambda: uow.outbox.done(new))
    assert uow.outbox.depth() == 0
    assert list((tmp_path / OUTBOX_DIR).glob("*.json")) == []


def test_ending_drops_what_no_sender_holds_judged_on_the_lease_as_stored(tmp_path: Path) -> None:
    """Dropping reads an item's lease as stored: one held by a sender stays, one whose lease
    ran out or was never taken goes, and so does one whose lease cannot be read (a number is
    read as the item is, as a Unix time)."""
    uow, one = JsonUnitOfWork(tmp_path), session()
    held, free, expired, damaged, number, other = (owed(one, "playbook") for _ in range(6))
    kept(uow, lambda: uow.outbox.add([held, free, expired, damaged, number, other]))
    kept(uow, lambda: uow.outbox.lease(held, T0, T0 + timedelta(minutes=1)))
    [queue] = (tmp_path / OUTBOX_DIR).glob("q-*.json")
    raws = json.loads(queue.read_text())
    for raw in raws:
        if raw["id"] == expired.id:
            raw["lease_until_utc"] = "2026-01-01T08:59:00.000000Z"  # before T0
        if raw["id"] == damaged.id:
            raw["lease_until_utc"] = "not a time"
        if raw["id"] == number.id:
            raw["lease_until_utc"] = 1_700_000_000  # 2023: long over
        if raw["id"] == other.id:
            raw["lease_until_utc"] = {"not": "a time"}
    queue.write_text(json.dumps(raws))
    assert kept(uow, lambda: uow.outbox.drop(one.id or "", ("playbook",), T0)) == 5
    assert [item.id for item in uow.outbox.items()] == [held.id]
