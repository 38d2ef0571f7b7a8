"""bot/web/guard.py: the edge's own rules, each on its own: Slack's signature and its
five-minute window, the bounded replay memory on an injected clock, the delivery id of an
event, and which bodies may be read. The middleware itself is driven over HTTP in
test_hostile.py."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.web.guard import (
    MAX_REST_BODY,
    MAX_SLACK_BODY,
    SIGNATURE_WINDOW_SECONDS,
    Seen,
    body_problem,
    event_id,
    signature_problem,
)

SECRET = b"test-signing-secret-not-real"
NOW = 1_767_258_000.0  # 2026-01-01T09:00:00Z
BODY = b"command=%2Fgo-start&user_id=U1"


def signed(
    body: bytes = BODY, stamp: str = str(int(NOW)), secret: bytes = SECRET
) -> dict[str, str]:
    digest = hmac.new(secret, b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": stamp, "x-slack-signature": f"v0={digest}"}


def test_a_signed_request_within_the_window_passes() -> None:
    assert signature_problem(SECRET, signed(), BODY, NOW) is None
    for skew in (-SIGNATURE_WINDOW_SECONDS, SIGNATURE_WINDOW_SECONDS):
        assert signature_problem(SECRET, signed(), BODY, NOW + skew) is None


@pytest.mark.parametrize(
    ("headers", "body", "now", "problem"),
    [
        ({}, BODY, NOW, "missing or malformed timestamp"),
        (
            {**signed(), "x-slack-request-timestamp": "12a"},
            BODY,
            NOW,
            "missing or malformed timestamp",
        ),
        (
            {**signed(), "x-slack-request-timestamp": "١٢٣"},
            BODY,
            NOW,
            "missing or malformed timestamp",
        ),
        (
            {**signed(), "x-slack-request-timestamp": "-5"},
            BODY,
            NOW,
            "missing or malformed timestamp",
        ),
        (
            signed(),
            BODY,
            NOW + SIGNATURE_WINDOW_SECONDS + 1,
            "timestamp outside the five-minute window",
        ),
        (
            signed(),
            BODY,
            NOW - SIGNATURE_WINDOW_SECONDS - 1,
            "timestamp outside the five-minute window",
        ),
        (signed(), BODY + b"&x=1", NOW, "bad signature"),
        (signed(secret=b"another-secret"), BODY, NOW, "bad signature"),
        ({**signed(), "x-slack-signature": ""}, BODY, NOW, "bad signature"),
        ({**signed(), "x-slack-signature": "v0=ü"}, BODY, NOW, "bad signature"),
        (
            signed(stamp=str(int(NOW) - 1)) | {"x-slack-request-timestamp": str(int(NOW))},
            BODY,
            NOW,
            "bad signature",
        ),
    ],
)
def test_each_unsigned_request_is_refused_with_its_reason(
    headers: dict[str, str], body: bytes, now: float, problem: str
) -> None:
    assert signature_problem(SECRET, headers, body, now) == problem


def test_a_key_is_seen_once_within_the_window() -> None:
    now = [0.0]
    seen = Seen(window=10.0, size=100, clock=lambda: now[0])
    assert seen.first("a") and not seen.first("a")
    now[0] = 10.0
    assert not seen.first("a")  # still within the window
    now[0] = 10.5
    assert seen.first("a")  # forgotten once older than the window
    assert seen.first("b") and not seen.first("b")


def test_the_memory_is_bounded_oldest_first() -> None:
    seen = Seen(window=1000.0, size=2, clock=lambda: 0.0)
    assert seen.first("a") and seen.first("b") and seen.first("c")
    assert seen.first("a")  # dropped to keep two: new again (and now "b" is dropped)
    assert not seen.first("c")
    assert seen.first("b")


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ('{"type": "event_callback", "event_id": "Ev01"}', "Ev01"),
        ('{"type": "event_callback"}', None),
        ('{"event_id": 7}', None),
        ('["event_id"]', None),
        ("{not json", None),
        ("payload=%7B%22event_id%22%3A%22Ev01%22%7D", None),  # a form body, not an event
    ],
)
def test_the_delivery_id_of_an_event(body: str, found: str | None) -> None:
    assert event_id(body) == found


@pytest.mark.parametrize(
    ("method", "path", "headers", "problem"),
    [
        ("GET", "/core/go/session", {}, None),
        ("POST", "/slack/events", {}, (411, "a Content-Length is required")),
        ("POST", "/slack/events", {"content-length": "-1"}, (411, "a Content-Length is required")),
        ("POST", "/slack/events", {"content-length": "٣"}, (411, "a Content-Length is required")),
        ("POST", "/slack/events", {"content-length": str(MAX_SLACK_BODY)}, None),
        (
            "POST",
            "/slack/events",
            {"content-length": str(MAX_SLACK_BODY + 1)},
            (413, f"the body may be at most {MAX_SLACK_BODY} bytes"),
        ),
        ("PUT", "/core/go/start", {"content-length": str(MAX_REST_BODY)}, None),
        (
            "PATCH",
            "/core/go/start",
            {"content-length": str(MAX_REST_BODY + 1)},
            (413, f"the body may be at most {MAX_REST_BODY} bytes"),
        ),
    ],
)
def test_which_bodies_may_be_read(
    method: str, path: str, headers: dict[str, str], problem: tuple[int, str] | None
) -> None:
    assert body_problem(method, path, headers) == problem
