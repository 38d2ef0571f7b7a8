"""The public edge against a hostile network: oversized and unsigned bodies, forged log lines,
malformed signatures, replays and retries, and a flood of refused commands."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.dev.fake_slack import FakeSlack
from tests.bot.conftest import (
    SIGNING_SECRET,
    ServeProcess,
    SlackHarness,
    posts,
    signed_headers,
)
from tests.conftest import FakeClock, audit_records

API_KEY = "test-api-key-not-real"


@pytest.fixture
def served(data_dir: Path, green: Path, fake_slack: FakeSlack) -> Iterator[ServeProcess]:
    with ServeProcess.start(data_dir, fake_slack, GOBOT_API_KEY=API_KEY) as server:
        yield server


def raw_request(server: ServeProcess, head: str, body: bytes = b"") -> str:
    """Send bytes as they are; return the status line the server answers with (a server that
    waits for a body that never comes fails the test at the generous timeout)."""
    port = int(str(server.client.base_url).rsplit(":", 1)[1].rstrip("/"))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        return conn.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def test_oversized_or_unsized_bodies_are_refused_before_they_are_read(
    served: ServeProcess,
) -> None:
    huge = "POST /slack/events HTTP/1.1\nHost: x\nContent-Length: 104857600\n"
    assert raw_request(served, huge, b"payload=") == "HTTP/1.1 413 Request Entity Too Large"
    rest = "POST /core/go/start_session HTTP/1.1\nHost: x\nContent-Length: 209715200\n"
    assert raw_request(served, rest) == "HTTP/1.1 401 Unauthorized"  # the key comes first
    keyed = rest.replace("Host: x", f"Host: x\nX-API-Key: {API_KEY}")
    assert raw_request(served, keyed) == "HTTP/1.1 413 Request Entity Too Large"
    chunked = "POST /slack/events HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n"
    assert raw_request(served, chunked, b"5\r\nhello\r\n") == "HTTP/1.1 411 Length Required"
    fetched = "GET /slack/events HTTP/1.1\nHost: x\n"
    assert raw_request(served, fetched) == "HTTP/1.1 405 Method Not Allowed"


def test_nothing_a_request_carries_reaches_the_log_as_a_line_of_its_own(
    served: ServeProcess, fake_slack: FakeSlack
) -> None:
    forged = "payload=x\n2026-01-01 00:00:00,000Z INFO gobot.commands FORGED\x1b[2J"
    answer = served.client.post(
        "/slack/events",
        content=forged.encode(),
        headers={"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=00"},
    )
    assert answer.status_code == 401
    harness = served.harness(fake_slack)
    assert harness.command("/go-session", user="U1\nFORGED-USER\x1b[31m").status_code == 200
    assert fake_slack.wait_for(lambda f: len(f.responses) == 1)
    out = served.output()
    assert "FORGED" not in out.replace("\\x0aFORGED-USER", "")  # escaped inside its line
    assert not [line for line in out.splitlines() if line.startswith(("FORGED", "2026-01-01"))]
    assert "\x1b" not in out
    assert out.count("refused a Slack request: missing or malformed timestamp") == 0
    assert out.count("refused a Slack request: timestamp outside the five-minute window") == 1


@pytest.mark.parametrize("stamp", ["abc", "", "1e9", "123.5", "-5", " 12"])
def test_malformed_timestamps_are_401_with_one_line_and_no_traceback(
    slack: SlackHarness, stamp: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = "command=%2Fgo-start&text=x&user_id=U1&channel_id=C1"
    headers = signed_headers(body)
    headers["X-Slack-Request-Timestamp"] = stamp
    caplog.set_level(logging.INFO)
    assert slack.post(body, headers).status_code == 401
    refusals = [r for r in caplog.records if r.name == "gobot.http"]
    assert len(refusals) == 1 and "command=" not in refusals[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not slack.services.sessions.get().active


def test_a_body_that_is_not_utf8_is_400_signed_and_401_unsigned(slack: SlackHarness) -> None:
    raw = b"command=%2Fgo-start&text=\xff\xfe"
    stamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + raw, hashlib.sha256)
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    assert slack.http.post("/slack/events", content=raw, headers=headers).status_code == 400
    headers["X-Slack-Signature"] = "v0=" + "0" * 64
    assert slack.http.post("/slack/events", content=raw, headers=headers).status_code == 401


def test_a_replayed_command_acts_once(slack: SlackHarness, fake_slack: FakeSlack) -> None:
    slack.run("/go-start", "first", user="U1")
    body, _ = slack.command_body("/go-end", "done", user="U1")
    captured = signed_headers(body)
    assert slack.post(body, captured).status_code == 200
    assert fake_slack.wait_for(lambda f: len(posts(f)) == 2)  # the summary
    assert "GO session started" in slack.run("/go-start", "second", user="U2")
    replay = slack.post(body, captured)
    assert replay.status_code == 200 and replay.content == b""
    slack.settle()
    assert slack.services.sessions.get().active  # the newer session was not ended
    events = [r["event"] for r in audit_records(slack.services)]
    assert events.count("GO_SESSION_END") == 1


def test_an_events_api_retry_is_acknowledged_without_acting_twice(
    slack: SlackHarness, fake_slack: FakeSlack
) -> None:
    event = {
        "token": "x",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": "EvRETRY1",
        "event_time": int(time.time()),
        "event": {"type": "app_home_opened", "user": "U1", "tab": "home"},
    }
    body = json.dumps(event)
    first = signed_headers(body, content_type="application/json")
    assert slack.post(body, first).status_code == 200
    retry = signed_headers(body, timestamp=int(time.time()) - 2, content_type="application/json")
    retry["X-Slack-Retry-Num"] = "1"
    retry["X-Slack-Retry-Reason"] = "http_timeout"
    assert slack.post(body, retry).status_code == 200
    fake_slack.wait_for_calls("views.publish")
    slack.settle("home:U1")
    assert len(fake_slack.calls_to("views.publish")) == 1


def test_a_flood_of_refused_commands_is_limited_and_leaves_a_bounded_audit(
    make_harness: Callable[..., SlackHarness], clock: FakeClock
) -> None:
    slack = make_harness(operators=["UOPS"])
    replies = [slack.run("/go-start", "launch", user="UMALLORY") for _ in range(3)]
    assert all("Only gobot operators" in reply for reply in replies)
    denied = [r for r in audit_records(slack.services) if r["event"] == "GO_COMMAND_DENIED"]
    assert len(denied) == 1 and "unrecorded_before" not in denied[0]["data"]
    clock.advance(timedelta(minutes=2))  # the audit's window moves on
    assert "Only gobot operators" in slack.run("/go-start", "launch", user="UMALLORY")
    denied = [r for r in audit_records(slack.services) if r["event"] == "GO_COMMAND_DENIED"]
    assert [r["data"].get("unrecorded_before") for r in denied] == [None, 2]
    flood = [slack.run("/go-start", "launch", user="UMALLORY") for _ in range(20)]
    assert "Only gobot operators" in flood[0] and all("Easy there" in r for r in flood[1:])
    assert len(audit_records(slack.services)) == 2  # the flood added nothing
    started = slack.run("/go-start", "launch", user="UOPS")
    assert "GO session started" in started  # others unaffected


def test_odd_digits_and_button_values_are_refused_without_a_traceback(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert "Usage: `/go-history [n]`" in slack.run("/go-history", "²", user="U2")
    slack.run("/go-start", "launch", user="U1")
    session = slack.services.sessions.get()
    due = session.reminder.next_due_utc
    for value in (f"{session.id} 23h", f"{session.id} 1x", "x 99999999999d"):
        response, token = slack.click("go_snooze_30m", value, user="U1")
        assert response.status_code == 200
        assert slack.fake.wait_for(lambda f, t=token: any(c.method == t for c in f.responses))
        reply = next(c.params for c in slack.fake.responses if c.method == token)
        assert "already ended" in str(reply)  # the value is only ever a session id
    assert slack.services.sessions.get().reminder.next_due_utc == due
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_request_cannot_reorder_a_log_line(served: ServeProcess) -> None:
    assert served.client.get("/core/go/x%0aFAKE%E2%80%AEevil").status_code == 401
    out = served.output()
    assert "\u202e" not in out and "\\x202e" in out and "\nFAKE" not in out
