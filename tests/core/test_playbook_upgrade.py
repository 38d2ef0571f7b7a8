"""Upgrading from one global playbook progress to a run per session keeps every completion."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from core.services import Services
from tests.conftest import write_json

LEGACY = {
    "completed": {
        "health": {"completed_at_utc": "2026-01-01T08:00:00.000000Z", "completed_by": "U1"},
        "backup": {"completed_at_utc": "2026-01-01T08:10:00.000000Z", "completed_by": "U2"},
    }
}


def put_legacy(data_dir: Path, store_settings: dict[str, Any]) -> None:
    if store_settings.get("store") != "postgres":
        write_json(data_dir / "go_progress.json", LEGACY)
        return
    with psycopg.connect(str(store_settings["database_url"]), autocommit=True) as db:
        for step, done in LEGACY["completed"].items():
            db.execute(
                "INSERT INTO gobot_progress (step_id, data) VALUES (%s, %s)",
                (step, json.dumps(done)),
            )


def test_legacy_progress_joins_the_session_active_at_upgrade(
    make_services: Callable[..., Services],
    green: Path,
    data_dir: Path,
    store_settings: dict[str, Any],
) -> None:
    services = make_services()
    services.sessions.start("U1", "C1", "open at the upgrade")
    put_legacy(data_dir, store_settings)
    services.playbook.adopt_legacy_progress()
    checklist = services.playbook.checklist()
    assert {i.id: i.completed_by for i in checklist.steps if i.done} == {
        "health": "U1",
        "backup": "U2",
    }
    services.playbook.adopt_legacy_progress()  # once: nothing is left to adopt
    assert services.playbook.checklist() == checklist
    if store_settings.get("store") != "postgres":
        assert not (data_dir / "go_progress.json").exists()
        assert json.loads((data_dir / "go_progress.archived.json").read_text()) == LEGACY


def test_legacy_progress_with_no_session_is_archived_not_lost(
    make_services: Callable[..., Services],
    green: Path,
    data_dir: Path,
    store_settings: dict[str, Any],
) -> None:
    services = make_services()
    put_legacy(data_dir, store_settings)
    services.playbook.adopt_legacy_progress()
    services.sessions.start("U1", "C1", "after the upgrade")
    assert services.playbook.checklist().completed == 0  # a fresh run
    if store_settings.get("store") == "postgres":
        with psycopg.connect(str(store_settings["database_url"])) as db:
            row = db.execute("SELECT data FROM gobot_progress_archive").fetchone()
        assert row is not None and set(row[0]) == {"health", "backup"}
    else:
        assert json.loads((data_dir / "go_progress.archived.json").read_text()) == LEGACY
