"""Shared fixtures: an injected clock and the real services on a temporary data dir."""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from bot.bootstrap import build_services
from bot.cli import main
from bot.settings import Settings
from core.services import Services
from core.stores.postgres.database import close_database
from tests.faults import STORE_MODULES

T0 = datetime(2026, 1, 1, 9, 0, 0, tzinfo=UTC)


KNOWN_SECRETS = (
    "xoxb-test-not-a-real-token",
    "test-signing-secret-not-real",
    "test-api-key-not-real",
    "xoxb-local",
)


@pytest.fixture(autouse=True)
def no_secret_in_any_log_line(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Across the whole suite: no token, signing secret or API key ever reaches a log record
    (checked before any redaction: the app must not log them in the first place)."""
    yield
    for when in ("setup", "call", "teardown"):
        for record in caplog.get_records(when):
            text = record.getMessage() + (record.exc_text or "")
            leaked = [secret for secret in KNOWN_SECRETS if secret in text]
            assert not leaked, f"secret in a log line from {record.name}: {text[:200]}"


class FakeClock:
    """A clock the test moves by hand; thread-safe so racing threads may read it."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


def wait_until(
    predicate: Callable[[], object], timeout: float = 30.0, what: str = "the condition"
) -> None:
    """Poll `predicate` until it is true: the one way a test waits (never a fixed sleep). The
    timeout is generous, for a loaded machine; reaching it fails the test."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout:g}s")
        time.sleep(0.01)


def outside_env(**extra: str) -> dict[str, str]:
    """This environment without any GOBOT_/SLACK_ setting of the caller's, plus `extra`."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("GOBOT_", "SLACK_"))}
    return {**kept, **extra}


def run_gobot(
    *args: str, env: dict[str, str], cwd: Path | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`gobot ARGS` as a separate process, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def gobot_here(*args: str, env: dict[str, str]) -> Result:
    """`gobot ARGS` in this process (click's CliRunner), for what a command prints; a test of
    exit codes, stdin or start-up runs the real process (`run_gobot`). The environment is this
    one without the caller's GOBOT_/SLACK_ settings, plus `env`; the logging the command sets
    up is undone after it."""
    cleared: dict[str, str | None] = {
        key: None for key in os.environ if key.startswith(("GOBOT_", "SLACK_"))
    }
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return CliRunner().invoke(main, list(args), env={**cleared, **env}, catch_exceptions=False)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def audit_records(services: Services) -> list[dict[str, Any]]:
    """The whole audit trail, through the port (either store)."""
    return services.audit.tail(1_000_000)


def write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload), encoding="utf-8")


@pytest.fixture
def faulty_os(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], None]:
    """Put a `tests.faults.FaultyOs` (or `os` again) between the JSON store and the OS."""

    def put(view: Any) -> None:
        for module in STORE_MODULES:
            monkeypatch.setattr(module, "os", view)

    return put


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def green(data_dir: Path) -> Path:
    """A healthy system: band A, health green, in the default file sources."""
    write_json(
        data_dir / "cone_state.json",
        {
            "band": "A",
            "reason": "KPIs green",
            "updated_at_utc": "2026-01-01T08:00:00Z",
            "metrics": {"error_rate": 0.01},
        },
    )
    write_json(data_dir / "health_status.json", {"status": "green", "reasons": []})
    return data_dir


PG_URL = os.environ.get("GOBOT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
json_only = pytest.mark.parametrize("store_settings", ["json"], indirect=True)


@functools.cache
def postgres_problem() -> str | None:
    """Why PostgreSQL tests cannot run here, or None."""
    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return (
            f"PostgreSQL tests deselected: cannot connect to {PG_URL} "
            f"({str(exc).strip().splitlines()[0]}); set GOBOT_TEST_DATABASE_URL to a database "
            "where tests may create and drop schemas"
        )


def pytest_report_header() -> str | None:
    return postgres_problem()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without PostgreSQL its tests are deselected, and said so once (header and summary)."""
    if postgres_problem() is None:
        return
    dropped = [
        item
        for item in items
        if getattr(item, "callspec", None) is not None
        and item.callspec.params.get("store_settings") == "postgres"  # type: ignore[attr-defined]
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    problem = postgres_problem()
    if problem is not None:
        terminalreporter.write_line(problem)


@pytest.fixture(params=["json", "postgres"])
def store_settings(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The same behavioural tests on both stores; each PostgreSQL test in a schema of its own."""
    if request.param == "json":
        yield {}
        return
    schema = f"gobot_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    joiner = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{joiner}options=-csearch_path%3D{schema}"
    yield {"store": "postgres", "database_url": url}
    close_database(url)
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def make_services(
    data_dir: Path, clock: FakeClock, store_settings: dict[str, Any]
) -> Callable[..., Services]:
    def make(**overrides: Any) -> Services:
        settings = Settings(data_dir=data_dir, **{**store_settings, **overrides})
        return build_services(settings, clock=clock)

    return make


@pytest.fixture
def services(make_services: Callable[..., Services], green: Path) -> Services:
    return make_services()
