"""Keyed once-only claims (core/claims.py): the tick's job forgets the claims that can no longer
matter (a reminder's after a day, any other after a week and a day), on both stores; the marks
the JSON store kept in `go_windows.json` before claims had a file of their own still count, and
`gobot migrate` carries them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from core.claims import (
    CLAIMS_KEPT,
    REMINDER_CLAIMS_KEPT,
    ClaimPruner,
    digest_key,
    reminder_key,
    window_key,
)
from core.services import Services
from core.stores.json import JsonUnitOfWork
from core.stores.migrate import copy_store
from tests.conftest import T0, FakeClock
from tests.units import committing


def test_the_tick_forgets_reminders_after_a_day_and_the_rest_after_a_week(
    services: Services, clock: FakeClock
) -> None:
    claims = committing(services.uow).claims
    now = clock.now()
    reminder, digest = reminder_key("s1", now), digest_key("2026-W01")
    assert claims.claim(reminder, now) and claims.claim(digest, now)
    pruner = ClaimPruner(services.uow, clock)
    assert pruner.tick() == 0
    clock.advance(REMINDER_CLAIMS_KEPT + timedelta(seconds=1))
    assert pruner.tick() == 1
    assert not claims.claimed(reminder) and claims.claimed(digest)
    clock.advance(CLAIMS_KEPT - REMINDER_CLAIMS_KEPT)
    assert pruner.tick() == 1 and services.uow.claims.all() == {}


def test_marks_kept_in_the_windows_file_still_count_and_are_migrated(
    data_dir: Path, tmp_path: Path
) -> None:
    (data_dir / "go_windows.json").write_text(
        json.dumps({"windows": {}, "marks": {"digest:2026-W01": "2026-01-01T09:00:00.000000Z"}})
    )
    uow = committing(JsonUnitOfWork(data_dir))
    assert uow.claims.claimed("digest:2026-W01")
    assert not uow.claims.claim("digest:2026-W01", T0)  # owed already, before the upgrade
    assert uow.claims.claim("digest:2026-W02", T0)
    target = JsonUnitOfWork(tmp_path / "copy")
    copy_store(uow, target)
    assert target.claims.all() == uow.claims.all() == {"digest:2026-W01": T0, "digest:2026-W02": T0}


def test_a_window_message_claimed_by_another_process_is_not_owed_again(
    services: Services, clock: FakeClock
) -> None:
    starts = clock.now() + timedelta(hours=2)
    window = services.windows.schedule("U1", "C1", starts, timedelta(hours=1))
    committing(services.uow).claims.claim(window_key(window, "reminder"), clock.now())
    clock.advance(timedelta(hours=2) - timedelta(minutes=1))  # within the lead
    assert services.windows.tick() == 0
    clock.advance(timedelta(minutes=1))
    assert services.windows.tick() == 1  # the prompt at its start is a claim of its own


def test_a_reminder_slot_claimed_by_another_process_is_not_owed_again(
    services: Services, clock: FakeClock
) -> None:
    session = services.sessions.start("U1", "C1", "").session
    due = session.reminder.next_due_utc
    assert due is not None
    committing(services.uow).claims.claim(reminder_key(session.id or "", due), clock.now())
    clock.advance(due - clock.now())
    assert services.reminders.claim_reminders().reminders == 0
