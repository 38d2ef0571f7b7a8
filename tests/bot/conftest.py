"""The Slack boundary for tests: a loopback fake Web API that the real WebClient talks to, and
requests signed exactly as Slack signs them, sent through the real HTTP app."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from bot.bootstrap import Runtime, build_runtime
from bot.dev.fake_slack import Call, FakeSlack
from bot.dev.slack_requests import button_click_body, event_callback_body, slash_command_body
from bot.settings import Settings
from bot.slack.blocks import block_texts
from bot.slack.mrkdwn import date
from bot.web.server import create_http_app
from core.clock import parse_utc
from core.services import Services
from tests import slow_sources
from tests.conftest import FakeClock, wait_until

SIGNING_SECRET = "test-signing-secret-not-real"
BOT_TOKEN = "xoxb-test-not-a-real-token"


@pytest.fixture
def held_health() -> Iterator[str]:
    """A health source (its spec) that hangs until `slow_sources.RELEASE` is set: by the test,
    or when it is over."""
    slow_sources.RELEASE.clear()
    yield "python:tests.slow_sources:hang"
    slow_sources.RELEASE.set()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def signed_headers(
    body: str,
    timestamp: int | None = None,
    secret: str = SIGNING_SECRET,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": content_type,
    }


@dataclass
class SlackHarness:
    """Sends signed slash commands, button clicks and events; waits for what reaches Slack."""

    http: TestClient | httpx.Client
    fake: FakeSlack
    services: Services
    runtime: Runtime | None = None

    def tick(self) -> None:
        """One scheduler tick, run here rather than on the scheduler's thread."""
        assert self.runtime is not None, "an in-process harness"
        self.runtime.ticker.tick()

    def drain(self, seconds: int = 30) -> None:
        """`seconds` ticks a second apart on the test clock: what waited for Slack's budget
        (a channel's burst spent) is delivered, at the pace a channel allows."""
        clock = self.services.clock
        assert isinstance(clock, FakeClock), "a harness on the test clock"
        for _ in range(seconds):
            clock.advance(timedelta(seconds=1))
            self.tick()

    def settle(self, *keys: str) -> None:
        """Wait until the work after the acks has run, for each key it is ordered by (a
        channel, `home:USER`, `modal:USER`): what has not happened by then will not."""
        assert self.runtime is not None, "an in-process harness"
        for key in keys or ("C1",):
            assert self.runtime.work.wait_idle(key, 30), f"work for {key} still running"

    def post(self, body: str, headers: dict[str, str]) -> httpx.Response:
        return self.http.post("/slack/events", content=body, headers=headers)

    def command_body(
        self,
        command: str,
        text: str = "",
        user: str = "U1",
        channel: str = "C1",
        token: str | None = None,
    ) -> tuple[str, str]:
        token = token or uuid.uuid4().hex
        body = slash_command_body(command, text, user, channel, self.fake.response_url(token))
        return body, token

    def command(
        self, command: str, text: str = "", user: str = "U1", channel: str = "C1"
    ) -> httpx.Response:
        body, token = self.command_body(command, text, user, channel)
        response = self.post(body, signed_headers(body))
        response.token = token  # type: ignore[attr-defined]
        return response

    def reply(self, response: httpx.Response, timeout: float = 30.0) -> dict[str, Any]:
        """The ephemeral answer sent to the command's response_url."""
        token = response.token  # type: ignore[attr-defined]
        if not self.fake.wait_for(lambda f: any(c.method == token for c in f.responses), timeout):
            raise AssertionError(f"no reply within {timeout}s")
        return next(c.params for c in self.fake.responses if c.method == token)

    def run(self, command: str, text: str = "", user: str = "U1", channel: str = "C1") -> str:
        """Send a command, check the ack, and return the reply's block text."""
        response = self.command(command, text, user, channel)
        assert response.status_code == 200, response.text
        return block_text(self.reply(response))

    def click(
        self,
        action_id: str,
        session_id: str,
        user: str = "U1",
        channel: str = "C1",
        message_ts: str = "1.0",
        *,
        on_home: bool = False,
    ) -> tuple[httpx.Response, str]:
        """A button click as Slack sends it (`session_id`: the button's value); returns the
        response and its response_url token."""
        token = uuid.uuid4().hex
        body = button_click_body(
            action_id,
            session_id,
            user,
            channel,
            self.fake.response_url(token),
            message_ts=message_ts,
            on_home=on_home,
        )
        return self.post(body, signed_headers(body)), token

    def event(self, event: dict[str, Any], event_id: str = "Ev1") -> httpx.Response:
        body = event_callback_body(event, event_id)
        return self.post(body, signed_headers(body, content_type="application/json"))


def block_text(params: dict[str, Any]) -> str:
    """Every text of a message's blocks, joined: what a person would read."""
    return "\n".join(block_texts(params.get("blocks") or []))


def slack_date(iso: str) -> str:
    """How gobot writes a time in Slack (each reader sees their own time zone)."""
    return date(parse_utc(iso))


def is_playbook(call: Call) -> bool:
    return str(call.params.get("text", "")).startswith("GO playbook:")


def posts(fake: FakeSlack, method: str = "chat.postMessage") -> list[Call]:
    """Calls of `method`, leaving out those of the playbook message (see `playbook_calls`)."""
    return [call for call in fake.calls_to(method) if not is_playbook(call)]


def playbook_calls(fake: FakeSlack) -> list[Call]:
    """Posts and edits of playbook messages, in order."""
    return [call for call in fake.calls if is_playbook(call)]


@pytest.fixture
def make_harness(
    fake_slack: FakeSlack, data_dir: Path, clock: FakeClock, green: Path
) -> Iterator[Callable[..., SlackHarness]]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> SlackHarness:
        """The tick runs on the test clock: a pause between delivery passes moves it on. A
        message held back for the channel's one-a-second pace waits for the next tick (its
        passes take less than a second): a short tick keeps that wait short."""
        settings = Settings(
            data_dir=data_dir,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=fake_slack.api_url,
            **{"tick": "1s", **overrides},
        )
        runtime = build_runtime(settings, clock=clock, pause=clock.advance)
        http = TestClient(create_http_app(runtime))
        clients.append(http)
        return SlackHarness(http, fake_slack, runtime.services, runtime)

    yield make
    for http in clients:
        http.close()


@pytest.fixture
def slack(make_harness: Callable[..., SlackHarness]) -> SlackHarness:
    return make_harness()


def serve_env(data_dir: Path, fake: FakeSlack, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "GOBOT_DATA_DIR": str(data_dir),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        **extra,
    }


LISTENING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@dataclass
class ServeProcess:
    """`gobot serve` as a real process on a port of its own choosing (port 0: no port is
    picked here and reused later), with an HTTP client pointed at it. Its output is read as
    it comes (so it never blocks on a full pipe) and kept for `output`."""

    process: subprocess.Popen[str]
    lines: list[str]
    reader: threading.Thread
    client: httpx.Client = field(init=False)

    @classmethod
    @contextmanager
    def start(cls, data_dir: Path, fake: FakeSlack, **env: str) -> Iterator[ServeProcess]:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", "0"],
            env=serve_env(data_dir, fake, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: list[str] = []

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)

        reader = threading.Thread(target=read, name="serve-output", daemon=True)
        reader.start()
        server = cls(process, lines, reader)
        try:
            server.client = httpx.Client(base_url=server._wait_up(), timeout=30)
            try:
                server._wait_healthy()
                yield server
            finally:
                server.client.close()
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
            reader.join(timeout=10)

    def _wait_up(self) -> str:
        """The base URL, from the port in the start-up line."""

        def port() -> str | None:
            found = (LISTENING.search(line) for line in list(self.lines))
            return next((match.group(1) for match in found if match), None)

        wait_until(lambda: port() is not None or self.process.poll() is not None)
        if self.process.poll() is not None:
            raise AssertionError(f"gobot serve exited at start:\n{self.output()}")
        return f"http://127.0.0.1:{port()}"

    def _wait_healthy(self) -> None:
        def healthy() -> bool:
            try:
                return self.client.get("/healthz").status_code == 200
            except httpx.TransportError:
                return False

        try:
            wait_until(lambda: self.process.poll() is not None or healthy(), what="a 200")
            assert self.process.poll() is None, "gobot serve exited"
        except AssertionError as problem:
            self.process.kill()
            raise AssertionError(f"{problem} (GET /healthz):\n{self.output()}") from None

    def output(self) -> str:
        """Everything the process wrote, once it has exited (stopped by SIGTERM if need be)."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)
        self.reader.join(timeout=10)
        return "".join(self.lines)

    def ticks(self) -> int:
        """Ticks the process has finished (runs of the last job, from GET /metrics)."""
        found = re.findall(r'^gobot_jobs_total\{job="health",[^}]*\} (\S+)$', self.metrics(), re.M)
        return sum(int(float(value)) for value in found)

    def metrics(self) -> str:
        return self.client.get("/metrics").text

    def wait_ticks(self, count: int) -> None:
        """Wait until `count` more ticks have finished: what they would have done is done."""
        target = self.ticks() + count
        wait_until(lambda: self.ticks() >= target, what=f"{count} more ticks")

    def harness(self, fake: FakeSlack) -> SlackHarness:
        return SlackHarness(self.client, fake, services=None)  # type: ignore[arg-type]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
