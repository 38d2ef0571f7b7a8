"""core/ports.py: the one port with behaviour of its own, NullDeliverer: a process with nothing
to send to leaves owed messages in the outbox, pending, for a process that has a transport."""

from __future__ import annotations

from core.models import Delivery
from core.ports import NullDeliverer
from core.services import Services
from tests.conftest import FakeClock


def test_the_null_deliverer_says_pending_for_any_session() -> None:
    assert NullDeliverer().deliver("s1") == Delivery(pending=True)
    assert NullDeliverer().deliver("") == Delivery(pending=True)


def test_without_a_transport_a_start_is_pending_and_its_messages_wait(
    services: Services, clock: FakeClock
) -> None:
    assert services.delivery is None
    change = services.sessions.start("U1", "C1", "")
    assert change.delivery == Delivery(pending=True)
    [first] = services.outbox.ready(clock.now())  # only a session's first item is ready
    assert (first.kind, first.session_id) == ("snapshot", change.session.id)
    assert services.outbox.depth() == 2  # the snapshot post and the playbook message
