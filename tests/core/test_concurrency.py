"""Racing starts and ends on one data directory, from threads and from processes."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pytest

from core.audit import Verification
from core.errors import NoActiveSession, SessionAlreadyActive
from core.models import AuditEvent, GoSession
from core.ports import AuditLog
from core.services import Services
from core.sessions import SessionService
from core.stores.json import JsonUnitOfWork
from tests.conftest import FakeClock, audit_records, json_only

ROOT = Path(__file__).resolve().parents[2]
THREADS = 20
PROCESSES = 4
ROUNDS = 5

# Builds its own services on argv[1], says READY, waits for the go file argv[2], races `start`
# once and reports `WON <id>` (exit 0) or `REFUSED <id of the active session>` (exit 3).
PROCESS_RACER = """
import sys, time
from pathlib import Path
from bot.settings import Settings
from bot.bootstrap import build_services
from core.errors import SessionAlreadyActive

services = build_services(Settings(data_dir=Path(sys.argv[1])))
go = Path(sys.argv[2])
print("READY", flush=True)
while not go.exists():
    time.sleep(0.001)
try:
    session = services.sessions.start(f"proc-{sys.argv[3]}", "C1", None).session
except SessionAlreadyActive as refused:
    print(f"REFUSED {refused.session.id}", flush=True)
    sys.exit(3)
print(f"WON {session.id}", flush=True)
"""


def history_ids(services: Services) -> list[str]:
    return [str(session.id) for session in services.sessions.history(100)]


def stored_sessions(data_dir: Path) -> dict[str, GoSession]:
    """Workspace scope: `go_session.json` is the scope's record, in the original shape."""
    raw = json.loads((data_dir / "go_session.json").read_text())
    assert set(raw) == {"session"}
    return {"workspace": GoSession.model_validate(raw["session"])}


def test_threads_racing_start_let_exactly_one_win(services: Services, data_dir: Path) -> None:
    barrier = threading.Barrier(THREADS)

    def race(number: int) -> GoSession | SessionAlreadyActive:
        barrier.wait()
        try:
            return services.sessions.start(f"U{number}", "C1", f"racer {number}").session
        except SessionAlreadyActive as refused:
            return refused

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(race, range(THREADS)))

    winners = [outcome for outcome in outcomes if isinstance(outcome, GoSession)]
    refusals = [outcome for outcome in outcomes if isinstance(outcome, SessionAlreadyActive)]
    assert len(winners) == 1
    assert len(refusals) == THREADS - 1
    winner = winners[0]
    assert {refused.session.id for refused in refusals} == {winner.id}

    assert [session.id for session in services.sessions.active()] == [winner.id]

    verification = services.audit.verify()
    assert verification.ok, verification.problem
    assert verification.records == 1
    starts = [r for r in audit_records(services) if r["event"] == "GO_SESSION_START"]
    assert [record["session_id"] for record in starts] == [winner.id]
    assert starts[0]["actor"] == winner.started_by


@pytest.mark.slow
@json_only
def test_processes_racing_start_let_exactly_one_win(
    services: Services, data_dir: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS_RACER, str(data_dir), str(go), str(number)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number in range(PROCESSES)
    ]
    try:
        for racer in racers:
            assert racer.stdout is not None
            assert racer.stdout.readline().strip() == "READY"
        go.touch()
        results = [racer.communicate(timeout=60) for racer in racers]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait()

    for racer, (_, stderr) in zip(racers, results, strict=True):
        assert racer.returncode in (0, 3), stderr
    lines = [stdout.split() for stdout, _ in results]
    won = [session_id for verb, session_id in lines if verb == "WON"]
    refused = [session_id for verb, session_id in lines if verb == "REFUSED"]
    assert len(won) == 1
    assert refused == won * (PROCESSES - 1)
    assert sorted(racer.returncode for racer in racers) == [0] + [3] * (PROCESSES - 1)

    stored = stored_sessions(data_dir)
    assert [session.id for session in stored.values() if session.active] == won
    assert services.sessions.get("C1").id == won[0]
    verification = services.audit.verify()
    assert verification.ok, verification.problem
    starts = [r["session_id"] for r in audit_records(services) if r["event"] == "GO_SESSION_START"]
    assert starts == won


def test_threads_racing_end_then_start_keep_history_and_audit_consistent(
    services: Services, data_dir: Path
) -> None:
    first = services.sessions.start("U0", "C1", None).session
    barrier = threading.Barrier(THREADS)

    def cycle(number: int) -> tuple[list[str], list[str]]:
        started: list[str] = []
        ended: list[str] = []
        for _ in range(ROUNDS):
            barrier.wait()
            with contextlib.suppress(NoActiveSession):
                ended.append(str(services.sessions.end(f"U{number}", "C1", None).session.id))
            with contextlib.suppress(SessionAlreadyActive):
                started.append(str(services.sessions.start(f"U{number}", "C1", None).session.id))
        return started, ended

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(cycle, range(THREADS)))
    started = [str(first.id), *(sid for thread_started, _ in results for sid in thread_started)]
    ended = [sid for _, thread_ended in results for sid in thread_ended]

    # Every round has at least one successful end and one successful start.
    assert len(ended) >= ROUNDS
    assert len(started) >= ROUNDS + 1
    assert len(set(started)) == len(started)
    assert len(set(ended)) == len(ended)
    assert set(ended) <= set(started)

    history = history_ids(services)
    assert len(history) == len(set(history)), Counter(history).most_common(3)
    assert sorted(history) == sorted(ended)

    active = [str(session.id) for session in services.sessions.active()]
    assert active == sorted(set(started) - set(ended))
    assert len(active) == 1

    verification = services.audit.verify()
    assert verification.ok, verification.problem
    events = Counter(record["event"] for record in audit_records(services))
    assert events["GO_SESSION_START"] == len(started)
    assert events["GO_SESSION_END"] == len(ended)
    assert verification.records == len(started) + len(ended)


class HeldStartAudit:
    """The real audit log, except that the first START append waits for `release`: the schedule
    of a thread preempted between its store write and its audit append."""

    def __init__(self, inner: AuditLog) -> None:
        self._inner = inner
        self.reached = threading.Event()
        self.release = threading.Event()

    def append(self, event: AuditEvent, at_utc: str) -> dict[str, Any]:
        if event.event == "GO_SESSION_START" and not self.reached.is_set():
            self.reached.set()
            self.release.wait(timeout=10)
        return self._inner.append(event, at_utc)

    def verify(self) -> Verification:
        return self._inner.verify()

    def tail(self, limit: int) -> list[dict[str, Any]]:
        return self._inner.tail(limit)


@json_only
def test_audit_never_records_a_session_end_before_its_start(
    services: Services, data_dir: Path, clock: FakeClock
) -> None:
    stores = JsonUnitOfWork(data_dir)
    held = HeldStartAudit(stores.audit)
    stores.audit = held  # type: ignore[assignment]  # the same store, its starts held
    starter = SessionService(stores, services.snapshots, clock)
    with ThreadPoolExecutor(2) as pool:
        starting = pool.submit(starter.start, "U1", "C1", None)
        assert held.reached.wait(timeout=10)
        ending = pool.submit(services.sessions.end, "U2", "C1", None)
        # Where state and audit are written under one lock, this end waits for the start.
        wait([ending], timeout=1)
        held.release.set()
        session = starting.result(timeout=10).session
        assert ending.result(timeout=10).session.id == session.id

    assert services.audit.verify().ok
    events = [(record["event"], record["session_id"]) for record in audit_records(services)]
    assert events == [("GO_SESSION_START", session.id), ("GO_SESSION_END", session.id)]
