"""The JSON store's unit of work under crashes and I/O errors.

- A fault at every write point of start, end, a delivery that empties a queue (kept as a
  spare file) and a start that reuses that spare, reminder claim, snooze, step completion, window
  changes and a report (which marks the audit records it verified in `audit.verified`): the
  process killed there (SIGKILL), or the write failing with ENOSPC or EIO. After each, a reader
  sees the whole change or none of it, the audit chain verifies, and every message owed is
  delivered exactly once through the loopback Slack.
- A child process SIGKILLed at random moments of a start/end loop, again and again on one data
  directory: every acknowledged change is there, whole.

Faults are injected at the data directory's boundary with the operating system: the module's
`os` is replaced by a view of it that fails (or kills the process) at the K-th write call.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.bootstrap import build_services
from bot.dev.fake_slack import FakeSlack
from bot.settings import Settings
from bot.slack.transport import SlackTransport
from core.errors import StoreUnavailable
from core.gate_models import GateRequest
from core.playbook import DEFAULT_STEPS
from core.services import Services
from core.stores.json import datadir
from core.stores.json.audit import MARK_FILE
from core.stores.json.outbox import JsonOutbox
from core.stores.json.sessions import JsonSessionStore
from tests.conftest import T0, FakeClock, json_only, write_json
from tests.faults import FULL_DISK, FaultyOs, fail_with, kill_self, put_between

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHILD_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
KILLS = 30
SEED = 20261125


def settings_for(directory: Path) -> Settings:
    return Settings(data_dir=directory, remind_after="1m", remind_every="1m", watch_every="24h")


def services_on(directory: Path, clock: FakeClock, **kwargs: Any) -> Services:
    return build_services(settings_for(directory), clock=clock, **kwargs)


# What each operation needs before it runs, and the operation itself.
def _no_setup(services: Services, clock: FakeClock) -> None:
    return None


def _active(services: Services, clock: FakeClock) -> None:
    services.sessions.start("U1", "C1", "launch")


def _ended(services: Services, clock: FakeClock) -> None:
    services.sessions.start("U1", "C1", "launch")
    services.sessions.end("U1", "C1", "done")


def _drain(services: Services) -> None:
    """Every owed message taken out as delivered, in one unit of work: the emptied queue is
    kept as a spare file."""
    with services.uow:
        for item in services.outbox.items():
            services.outbox.done(item)
        services.uow.commit()


def _ended_and_delivered(services: Services, clock: FakeClock) -> None:
    _ended(services, clock)
    _drain(services)


def _reminder_due(services: Services, clock: FakeClock) -> None:
    services.sessions.start("U1", "C1", "launch")
    clock.advance(timedelta(minutes=2))


def _plan(services: Services) -> None:
    services.windows.schedule("U1", "C1", T0 + timedelta(hours=1), timedelta(hours=1))


def _planned(services: Services, clock: FakeClock) -> None:
    _plan(services)


def _window_due(services: Services, clock: FakeClock) -> None:
    _planned(services, clock)
    clock.advance(timedelta(minutes=30))  # its reminder is due


def _start_window(services: Services) -> None:
    [window] = services.windows.upcoming()
    services.windows.start("U2", window.id)


def _snooze(services: Services) -> None:
    current = services.sessions.get("C1")
    services.reminders.snooze(current.scope or "", current.id or "", "U2", timedelta(hours=1))


# Operations that go on after a failed write: a tick (with its other sessions and windows, and
# logs it), a report (whose verified mark is kept another time).
GOING_ON = ("reminder", "window reminder", "report")
OPERATIONS: dict[str, tuple[Callable[[Services, FakeClock], None], Callable[[Services], Any]]] = {
    "start": (_no_setup, lambda s: s.sessions.start("U1", "C1", "launch")),
    "end": (_active, lambda s: s.sessions.end("U2", "C1", "done")),
    "delivered": (_ended, _drain),
    "start on a spare": (_ended_and_delivered, lambda s: s.sessions.start("U1", "C1", "again")),
    "reminder": (_reminder_due, lambda s: s.reminders.tick()),
    "snooze": (_active, _snooze),
    "complete": (_active, lambda s: s.playbook.complete("1", "U1", "checked", "C1")),
    "schedule": (_no_setup, _plan),
    "window reminder": (_window_due, lambda s: s.windows.tick()),
    "window start": (_planned, _start_window),
    "report": (_ended, lambda s: s.reports.report("C1")),
    "freeze": (
        _no_setup,
        lambda s: s.windows.schedule_freeze(
            "U1", "C1", T0 + timedelta(hours=1), timedelta(days=2), "year-end"
        ),
    ),
    "gate": (
        _active,
        lambda s: s.gate.decide(
            GateRequest(channel="C1", environment="production", requester="ci"),
            source="cli",
            actor="ci",
        ),
    ),
}


def fingerprint(services: Services, directory: Path) -> tuple[Any, ...]:
    """What a reader sees, without the random ids."""
    session = services.sessions.get("C1")
    return (
        [record["event"] for record in services.audit.tail(1_000_000)],
        (session.active, session.notes, session.end_notes, session.reminder),
        len(services.sessions.history(100)),
        sorted(item.kind for item in JsonOutbox(directory).items()),
        [step.id for step in services.playbook.checklist().steps if step.done],
        [
            (w.status, w.reminded, w.prompted)
            for w in services.windows.between(T0 - timedelta(days=1), T0 + timedelta(days=1))
        ],
        json.loads((directory / MARK_FILE).read_text())
        if (directory / MARK_FILE).exists()
        else None,
    )


@pytest.fixture(scope="module")
def loopback_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def deliver_everything(directory: Path, clock: FakeClock, fake: FakeSlack) -> None:
    """Send what the outbox owes through the real transport; each item must land once."""
    owed = {item.id for item in JsonOutbox(directory).items()}
    client = WebClient(token="xoxb-test-not-a-real-token", base_url=fake.api_url)
    services = services_on(directory, clock, transport=SlackTransport(client, DEFAULT_STEPS))
    assert services.delivery is not None
    before = len(fake.calls)
    for _ in range(20):
        clock.advance(timedelta(seconds=2))  # past the one-message-per-second channel gap
        if not services.delivery.deliver_ready().attempted:
            break
    landed = Counter(
        (call.params.get("metadata") or {}).get("event_payload", {}).get("outbox_id")
        for call in fake.calls[before:]
        if call.method == "chat.postMessage"
    )
    assert set(landed) == owed and all(count == 1 for count in landed.values()), landed
    assert JsonOutbox(directory).items() == []


@pytest.fixture
def templates(tmp_path: Path, green: Path) -> dict[str, tuple[Path, FakeClock]]:
    """Per operation: a data dir set up for it, and the clock it runs at."""
    made = {}
    for name, (setup, _) in OPERATIONS.items():
        directory = tmp_path / f"template-{name}"
        shutil.copytree(green, directory)
        clock = FakeClock()
        setup(services_on(directory, clock), clock)
        made[name] = (directory, clock)
    return made


def outcomes(
    name: str, template: tuple[Path, FakeClock], tmp_path: Path
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The fingerprints before and after the operation when nothing fails."""
    directory, clock = template
    before = fingerprint(services_on(directory, FakeClock(clock.now())), directory)
    copy = tmp_path / f"clean-{name}"
    shutil.copytree(directory, copy)
    run_clock = FakeClock(clock.now())
    OPERATIONS[name][1](services_on(copy, run_clock))
    after = fingerprint(services_on(copy, run_clock), copy)
    assert before != after
    return before, after


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_a_crash_at_every_write_point_keeps_all_or_nothing(
    name: str,
    templates: dict[str, tuple[Path, FakeClock]],
    tmp_path: Path,
    loopback_slack: FakeSlack,
) -> None:
    before, after = outcomes(name, templates[name], tmp_path)
    template, template_clock = templates[name]
    seen = set()
    for at in range(1, 200):
        directory = tmp_path / f"kill-{at}"
        shutil.copytree(template, directory)
        clock = FakeClock(template_clock.now())
        pid = os.fork()
        if pid == 0:  # the child: run the operation, dying at the at-th write
            try:
                services = services_on(directory, clock)
                put_between(FaultyOs(at, kill_self))
                OPERATIONS[name][1](services)
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        services = services_on(directory, FakeClock(clock.now()))
        assert services.audit.verify().ok, f"{name}, killed at write {at}"
        state = fingerprint(services, directory)
        assert state in (before, after), f"{name}, killed at write {at}: {state}"
        seen.add(state == after)
        deliver_everything(directory, FakeClock(clock.now()), loopback_slack)
        shutil.rmtree(directory)
        if not os.WIFSIGNALED(status):
            break  # the operation got past its last write
    else:
        pytest.fail(f"{name} never completed")
    assert seen == {False, True}, "the kills landed both before and after the commit point"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
@pytest.mark.parametrize("name", list(OPERATIONS))
def test_an_io_error_at_every_write_point_keeps_all_or_nothing(  # noqa: PLR0917
    name: str,
    code: int,
    templates: dict[str, tuple[Path, FakeClock]],
    tmp_path: Path,
    loopback_slack: FakeSlack,
    faulty_os: Callable[[FaultyOs], None],
) -> None:
    before, after = outcomes(name, templates[name], tmp_path)
    template, template_clock = templates[name]
    told = set()
    for at in range(1, 200):
        directory = tmp_path / f"fail-{at}"
        shutil.copytree(template, directory)
        clock = FakeClock(template_clock.now())
        services = services_on(directory, clock)
        view = FaultyOs(at, fail_with(code))
        faulty_os(view)
        try:
            OPERATIONS[name][1](services)
            error = None
        except StoreUnavailable as exc:
            error = exc
        finally:
            faulty_os(os)  # type: ignore[arg-type]
        state = fingerprint(services, directory)
        assert services.audit.verify().ok, f"{name}, failed write {at}"
        if error is not None:
            told.add(error.kept)
            assert state == (after if error.kept else before), f"{name}, write {at}: {error}"
            expected = "full" if code == errno.ENOSPC else "I/O error"
            assert expected in error.message
        else:
            assert state in (before, after), f"{name}, failed write {at}"
        deliver_everything(directory, FakeClock(clock.now()), loopback_slack)
        shutil.rmtree(directory)
        if view.calls < at:
            break  # the fault was never reached: every write point has been tried
    if name not in GOING_ON:
        assert False in told, "a failure before the commit point says nothing changed"


# Loops start (unless a session is already active) then end, acknowledging each returned call.
CHILD = """
import sys
from pathlib import Path
from bot.settings import Settings
from bot.bootstrap import build_services
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


def run_and_kill(data_dir: Path, delay: float, errors: Path) -> list[str]:
    """Run one child, SIGKILL it `delay` seconds after it is ready; return its stdout lines."""
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


def test_sigkill_at_random_moments_keeps_every_change_whole(
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
        verification = services.audit.verify()
        assert verification.ok, f"{context}: {verification.problem}"
        records = services.audit.tail(1_000_000)
        started = {r["session_id"] for r in records if r["event"] == "GO_SESSION_START"}
        ended = {r["session_id"] for r in records if r["event"] == "GO_SESSION_END"}
        history = [session.id for session in JsonSessionStore(data_dir).history(1_000_000)]
        owed = Counter((item.kind, item.session_id) for item in JsonOutbox(data_dir).items())
        current = services.sessions.get()
        # Whole changes only: every start has its post owed, every end its history and update.
        assert acked_starts <= started and acked_ends <= ended, context
        assert len(history) == len(set(history)), f"duplicate in history {context}"
        assert set(history) == ended, context
        assert {s for kind, s in owed if kind == "snapshot"} == started, context
        assert {s for kind, s in owed if kind == "ended"} == ended, context
        assert all(count == 1 for count in owed.values()), context
        if current.id is not None:
            assert current.id in started and current.active == (current.id not in ended), context

    assert len(acked_ends) >= KILLS  # the children got work done, so kills landed mid-change
    for session in services.sessions.active():
        services.sessions.end("parent", session.channel)
    started_again = services.sessions.start("parent", "C1").session
    assert services.sessions.end("parent", "C1").session.id == started_again.id
    assert services.audit.verify().ok


@json_only
def test_a_full_disk_during_start_changes_nothing_and_a_retry_works(
    services: Services, data_dir: Path, faulty_os: Callable[[FaultyOs], None]
) -> None:
    faulty_os(FaultyOs(1, fail_with(errno.ENOSPC), every=True, names=FULL_DISK))
    with pytest.raises(StoreUnavailable, match="the data disk is full") as failed:
        services.sessions.start("U1", "C1", "launch")
    assert not failed.value.kept
    faulty_os(os)  # type: ignore[arg-type]  # space freed
    assert not services.sessions.get().active and services.audit.tail(10) == []
    assert services.sessions.start("U1", "C1", "launch").session.active
    assert [record["event"] for record in services.audit.tail(10)] == ["GO_SESSION_START"]
    write_json(data_dir / "unrelated.json", {})  # the data dir is still writable by others
    assert not list(data_dir.glob(f"{datadir.TEMP_PREFIX}*"))
    assert json.loads((data_dir / "go_session.json").read_text())["session"]["active"]
