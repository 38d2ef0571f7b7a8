"""Session ids carry their start time (UUIDv7 in hex); uuid4 ids carry none."""

from __future__ import annotations

import uuid
from datetime import timedelta

from core.ids import id_time, time_ordered_id
from tests.conftest import T0


def test_an_id_carries_its_start_to_the_millisecond_and_sorts_by_it() -> None:
    times = [T0 + timedelta(milliseconds=n * 7) for n in range(50)]
    ids = [time_ordered_id(at) for at in times]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [id_time(value) for value in ids] == times
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and len(ids[0]) == 32


def test_ids_that_carry_no_time_say_so() -> None:
    for value in (uuid.uuid4().hex, "id5", "", "0" * 12 + "7" + "z" * 19):
        assert id_time(value) is None
