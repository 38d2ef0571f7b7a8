"""SIGKILL a process mid start/end, again and again on one data directory.

After every kill the files must still load, the audit chain must verify, and every operation
the child acknowledged (it prints an ACK only after the call returned) must be on disk.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.wiring import build_services
from core.models import GoSession

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHILD_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
KILLS = 20
SEED = 20261124

# Loops start (unless a session is already active) then end, acknowledging each returned call.
CHILD = """
import sys
from pathlib import Path
from bot.settings import Settings
from bot.wiring import build_services
from core.errors import SessionAlreadyActive

sessions = build_services(Settings(data_dir=Path(sys.argv[1]))).sessions
print("READY", flush=True)
while True:
    try:
        started = sessions.start("crash-child", "C1", None).session
        print(f"ACK start {started.id}", flush=True)
    except SessionAlreadyActive:
        pass
    ended = sessions.end("crash-child", "C1", None).session
    print(f"ACK end {ended.id}", flush=True)
"""

# Does one start (or, with a session active, one end) and dies by SIGKILL at the point argv[2]
# names: `store-written` (the store is written, the audit append not begun) or `line-appended`
# (the audit line is appended, audit.head not yet updated).
CHILD_KILLED_AT = """
import os, signal, sys
from pathlib import Path
from bot.settings import Settings
from bot.wiring import build_services
from core.errors import SessionAlreadyActive
from core.stores import json_audit, json_store

def die(*args):
    os.kill(os.getpid(), signal.SIGKILL)

append_line = json_audit.append_line

def append_then_die(path, line):
    append_line(path, line)
    die()

if sys.argv[2] == "audited":
    json_store.JsonSessionStore.create = die
    json_store.JsonSessionStore.finish = die
else:
    json_audit.append_line = append_then_die
sessions = build_services(Settings(data_dir=Path(sys.argv[1]))).sessions
try:
    sessions.start("crash-child", "C1", None)
except SessionAlreadyActive:
    sessions.end("crash-child", "C1", None)
"""


def run_and_kill(data_dir: Path, delay: float, errors: Path) -> list[str]:
    """Run one child, SIGKILL it `delay` seconds after it is ready; return its stdout lines.

    The child's stderr goes to `errors`, shown if it dies on its own.
    """
    with open(errors, "w", encoding="utf-8") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(data_dir)],
            cwd=ROOT,
            env=CHILD_ENV,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.append(line.rstrip("\n"))
            ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(timeout=30), "the child never became ready"
        time.sleep(delay)
    finally:
        child.kill()  # SIGKILL
        child.wait()
        reader.join(timeout=10)
    assert child.returncode == -signal.SIGKILL, f"the child died on its own: {errors.read_text()}"
    assert lines[0] == "READY"
    return lines[1:]


def complete_lines(path: Path) -> list[str]:
    """The newline-terminated lines of a file, without a torn last fragment (crash mid-append)."""
    if not path.exists():
        return []
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def test_sigkill_at_random_moments_never_loses_an_acknowledged_operation(
    data_dir: Path, green: Path, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    services = build_services(Settings(data_dir=data_dir))
    acked_starts: set[str] = set()
    acked_ends: set[str] = set()
    for kill in range(KILLS):
        for line in run_and_kill(data_dir, rng.uniform(0.005, 0.150), tmp_path / "child.err"):
            verb, operation, session_id = line.split()
            assert verb == "ACK", line
            (acked_starts if operation == "start" else acked_ends).add(session_id)

        context = f"after kill {kill + 1}"
        if (data_dir / "go_session.json").exists():
            raw = json.loads((data_dir / "go_session.json").read_text(encoding="utf-8"))
            GoSession.model_validate(raw["session"])
        history = [
            GoSession.model_validate_json(line)
            for line in complete_lines(data_dir / "go_history.jsonl")
        ]
        history_ids = [session.id for session in history]
        assert len(history_ids) == len(set(history_ids)), f"duplicate in history {context}"

        verification = services.audit.verify()
        assert verification.ok, f"{context}: {verification.problem}"
        records = [json.loads(line) for line in complete_lines(data_dir / "audit.log")]
        audited = {(record["event"], record["session_id"]) for record in records}
        for session_id in acked_starts:
            assert ("GO_SESSION_START", session_id) in audited, f"{context}: {session_id}"
        for session_id in acked_ends:
            assert ("GO_SESSION_END", session_id) in audited, f"{context}: {session_id}"
        assert acked_ends <= set(history_ids), context

    # The children got real work done between kills, so the kills landed mid-operation.
    assert len(acked_ends) >= KILLS
    # The store is usable after the last kill: whatever state it was left in, a new cycle works.
    for session in services.sessions.active():
        services.sessions.end("parent", session.channel)
    started = services.sessions.start("parent", "C1").session
    assert services.sessions.end("parent", "C1").session.id == started.id
    assert services.audit.verify().ok


def kill_at(data_dir: Path, point: str) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD_KILLED_AT, str(data_dir), point],
        check=False,
        cwd=ROOT,
        env=CHILD_ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr


def test_a_crash_between_audit_and_state_write_leaves_no_unaudited_state(
    data_dir: Path, green: Path
) -> None:
    """Audit first, then state: a crash between them leaves the record of an attempt that did
    not take effect, never a state change without its record."""
    kill_at(data_dir, "audited")
    services = build_services(Settings(data_dir=data_dir))
    assert services.sessions.active() == []  # the start did not take effect
    session = services.sessions.start("parent", "C1").session
    kill_at(data_dir, "audited")  # an end, cut after its audit record
    assert services.sessions.get().active  # ... so the session is still active
    assert services.sessions.end("parent", "C1").session.id == session.id

    assert services.audit.verify().ok
    records = [json.loads(line) for line in complete_lines(data_dir / "audit.log")]
    events = [(record["event"], record["session_id"]) for record in records]
    assert events[1:] == [
        ("GO_SESSION_START", session.id),
        ("GO_SESSION_END", session.id),
        ("GO_SESSION_END", session.id),
    ]
    assert events[0][0] == "GO_SESSION_START" and events[0][1] != session.id


def test_two_crashes_in_a_row_between_audit_line_and_head_still_verify(
    data_dir: Path, green: Path
) -> None:
    services = build_services(Settings(data_dir=data_dir))
    kill_at(data_dir, "line-appended")  # a start cut after its audit line: the log is ahead
    assert services.audit.verify().ok
    kill_at(data_dir, "line-appended")  # killed at the same point again: two records ahead
    records = [json.loads(line) for line in complete_lines(data_dir / "audit.log")]
    # Audit comes before state: both starts were cut before they took effect.
    assert [record["event"] for record in records] == ["GO_SESSION_START", "GO_SESSION_START"]
    assert services.sessions.active() == []

    verification = services.audit.verify()
    assert verification.ok, verification.problem
