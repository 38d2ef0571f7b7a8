"""PostgreSQL going away under `gobot serve`: fail fast and say so, keep acking, recover.

The test starts a PostgreSQL server of its own (initdb + pg_ctl, as the `postgres` user,
listening on a Unix socket in its own directory only: no TCP port to pick or race for) so that
it can stop it; the shared server is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.dev.fake_slack import FakeSlack
from tests.bot.conftest import ServeProcess, block_text, signed_headers
from tests.conftest import wait_until

pytestmark = pytest.mark.slow
API_KEY = "test-api-key-not-real"


@dataclass
class PrivatePostgres:
    directory: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.directory}"

    def ctl(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", "pg_ctl", "-D", str(self.directory), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = f"-k {self.directory} -c listen_addresses=''"
        self.ctl("-o", options, "-l", str(self.directory / "server.log"), "-w", "start")

    def stop(self) -> None:
        self.ctl("-m", "fast", "-w", "stop")


def postgres_problem() -> str | None:
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return "needs root (to run PostgreSQL as the postgres user) and runuser"
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        return "needs initdb and pg_ctl"
    return None


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    problem = postgres_problem()
    if problem is not None:
        pytest.skip(problem)
    directory = Path(tempfile.mkdtemp(prefix="gobot-pg-"))  # pytest's own are root-only
    shutil.chown(directory, "postgres")
    subprocess.run(
        ["runuser", "-u", "postgres", "--", "initdb", "-D", str(directory), "-A", "trust"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = PrivatePostgres(directory)
    server.start()
    try:
        yield server
    finally:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                "pg_ctl",
                "-D",
                str(directory),
                "-m",
                "immediate",
                "stop",
            ],
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(directory, ignore_errors=True)


def ack(client: httpx.Client, body: str) -> tuple[float, int]:
    started = time.monotonic()
    status = client.post("/slack/events", content=body, headers=signed_headers(body)).status_code
    return time.monotonic() - started, status


def test_a_stopped_database_fails_fast_keeps_acks_quick_and_recovers(
    private_postgres: PrivatePostgres, data_dir: Path, green: Path, fake_slack: FakeSlack
) -> None:
    env = {
        "GOBOT_STORE": "postgres",
        "GOBOT_DATABASE_URL": private_postgres.url,
        "GOBOT_API_KEY": API_KEY,
    }
    with ServeProcess.start(data_dir, fake_slack, **env) as server:
        slack = server.harness(fake_slack)
        assert "GO session started" in slack.run("/go-start", "launch")
        private_postgres.stop()

        reply = slack.run("/go-end", "done")
        assert "Not ended: the database is unavailable. Nothing changed" in reply
        rest = server.client.get("/core/go/session", headers={"X-API-Key": API_KEY})
        assert rest.status_code == 503
        assert rest.json() == {"detail": "the database is unavailable", "code": "store_unavailable"}
        assert server.client.get("/healthz").status_code == 503

        bodies = [slack.command_body("/go-session", user=f"U{n}")[0] for n in range(200)]
        base = str(server.client.base_url)
        with (
            ThreadPoolExecutor(40) as pool,
            httpx.Client(base_url=base, timeout=30) as other,
            httpx.Client(base_url=base, timeout=30) as commands,
        ):
            health = [pool.submit(other.get, "/healthz") for _ in range(50)]
            acks = list(pool.map(lambda body: ack(commands, body), bodies))
            assert all(f.result().status_code == 503 for f in health)
        assert all(status == 200 for _, status in acks)
        times = sorted(seconds for seconds, _ in acks)
        print(
            f"database down: acks seen by the clients p50 {times[100] * 1000:.1f} ms, "
            f"max {times[-1] * 1000:.1f} ms"
        )
        # Every ack, timed by the server from reading the request to answering it, is within
        # Slack's 3 s deadline (its last bucket below): none waited on the database. What the
        # clients saw also includes their own 40 threads' turns on 2 cores.
        metrics = server.metrics()
        count = re.search(r"^gobot_slack_ack_seconds_count (\S+)$", metrics, re.M)
        under = re.search(r'^gobot_slack_ack_seconds_bucket\{le="2.5"\} (\S+)$', metrics, re.M)
        assert count is not None and under is not None
        assert float(under[1]) == float(count[1]) >= 200, (under[1], count[1])

        private_postgres.start()  # back, with no restart of gobot

        def ended() -> bool:  # the pool reconnects at its own pace: generous timeouts
            reply = slack.reply(slack.command("/go-end", "done"), timeout=60)
            return "GO session ended" in block_text(reply)

        wait_until(ended, timeout=120, what="an end once the database is back")
        assert server.client.get("/healthz").status_code == 200
