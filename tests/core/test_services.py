"""core/services.py: the bundle a process is handed: its services share one clock and one
store, so what one records the others see; it cannot be rewired after it is built."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.services import Services
from tests.conftest import FakeClock, audit_records


def test_the_services_share_one_store_and_one_clock(services: Services, clock: FakeClock) -> None:
    window = services.windows.schedule(
        "U1", "C1", clock.now() + timedelta(hours=1), timedelta(hours=1)
    )
    session = services.windows.start("U1", window.id).session
    services.workspace.note("U2", "C1", "seen by all")
    services.playbook.complete("1", "U2", channel="C1")
    current = services.sessions.get("C1")
    assert current.id == session.id and current.active
    assert [e.text for e in current.timeline] == ["seen by all"]
    assert list(current.playbook) == ["health"]
    assert services.playbook.checklist("C1").session_id == session.id
    assert services.clock.now() == clock.now() == current.started_at_utc
    assert [r["event"] for r in audit_records(services)] == [
        "GO_WINDOW_SCHEDULED",
        "GO_SESSION_START",
        "GO_WINDOW_STARTED",
        "GO_NOTE_ADDED",
        "GO_STEP_COMPLETE",
    ]
    assert services.audit.verify().ok


def test_the_bundle_cannot_be_rewired(services: Services) -> None:
    with pytest.raises(AttributeError):  # a frozen dataclass refuses it
        services.sessions = services.sessions  # type: ignore[misc]
