"""`gobot migrate --to postgres`: a JSON data dir copied without loss, once."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.models import MessageRef, Posted
from core.services import Services
from core.stores.json import JsonUnitOfWork
from core.stores.postgres import PgUnitOfWork
from tests.conftest import T0, FakeClock, audit_records, outside_env, run_gobot
from tests.units import committing

postgres_target = pytest.mark.parametrize("store_settings", ["postgres"], indirect=True)


def migrate(data_dir: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = outside_env(GOBOT_DATA_DIR=str(data_dir), GOBOT_DATABASE_URL=url)
    return run_gobot("migrate", "--to", "postgres", env=env)


@postgres_target
def test_migrate_copies_everything_once(
    make_services: Callable[..., Services],
    green: Path,
    clock: FakeClock,
    store_settings: dict[str, Any],
) -> None:
    source = make_services(store="json", session_scope="channel")
    for channel in ("C1", "C2"):
        source.sessions.start("U1", channel, f"first in {channel}")
        source.sessions.end("U2", channel, "done")
    source.sessions.start("U3", "C1", "still open")
    source.playbook.complete("1", "U1", "ok", channel="C1")
    source.playbook.complete("canary", "U2", channel="C1")
    active = source.sessions.get("C1")  # its playbook run travels with it ...
    posted = Posted(  # ... and where its post and playbook message landed, delivered
        post=MessageRef(channel="C1", ts="1.0"), playbook=MessageRef(channel="C1", ts="2.0")
    )
    committing(source.uow).outbox.set_posted(active.id or "", posted)
    window = source.windows.schedule("U1", "C2", T0 + timedelta(days=1), timedelta(hours=1))
    mark = ("digest:2026-W01", T0)  # this week's digest is owed already
    assert committing(JsonUnitOfWork(green)).claims.claim(*mark)
    for item in source.outbox.items():
        if item.session_id == active.id:
            committing(source.uow).outbox.done(item)
    url = str(store_settings["database_url"])

    result = migrate(green, url)
    assert result.returncode == 0, result.stderr
    assert "copied 3 sessions, 0 playbook steps" in result.stdout  # no legacy progress
    assert "1 planned windows and 0 GitHub deployments" in result.stdout

    target = make_services(session_scope="channel")
    assert target.sessions.get("C1") == active and len(active.playbook) == 2
    assert [s.id for s in target.sessions.active()] == [active.id]
    for channel in ("C1", "C2"):
        assert target.sessions.history(10, channel) == source.sessions.history(10, channel)
    assert target.playbook.checklist("C1") == source.playbook.checklist("C1")
    assert target.outbox.posted(active.id or "") == posted
    assert target.windows.upcoming() == [window]
    assert PgUnitOfWork.open(url).claims.claimed(mark[0])  # carried: not owed again
    assert audit_records(target) == audit_records(source)
    verification = target.audit.verify()
    assert verification.ok and verification.records == len(audit_records(source))
    assert target.outbox.depth() == source.outbox.depth() > 0  # the CLI has no transport

    again = migrate(green, url)
    assert again.returncode == 1
    assert "already holds gobot data: nothing was copied" in again.stderr
    assert "Traceback" not in again.stderr


@postgres_target
def test_migrate_refuses_a_broken_chain(
    make_services: Callable[..., Services], green: Path, store_settings: dict[str, Any]
) -> None:
    make_services(store="json").sessions.start("U1", "C1", "")
    log = green / "audit.log"
    log.write_text(log.read_text().replace('"U1"', '"U9"', 1))
    result = migrate(green, str(store_settings["database_url"]))
    assert result.returncode == 1 and "does not verify" in result.stderr
