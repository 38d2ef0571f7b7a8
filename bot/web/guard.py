"""What the public HTTP edge checks before anything else reads a request.

- Bodies: a POST must say how long it is (411 otherwise) and be at most `MAX_SLACK_BODY` on
  `/slack/events`, `MAX_GITHUB_BODY` on `/github/webhook` or `MAX_REST_BODY` on REST (413),
  refused before a byte of it is read.
- REST: the `X-API-Key` is checked before the body is read or parsed (401); every call gets a
  log line (method, path, status, time).
- Slack: the signature (`v0=` HMAC-SHA256 of `v0:{timestamp}:{raw body}`) and a timestamp of
  digits within five minutes of now, checked on the raw bytes (401); then the body must be
  UTF-8 (400). A refused request gets one log line that names the reason and never carries the
  body or anything else the request sent.
- GitHub: `X-Hub-Signature-256` (`sha256=` HMAC-SHA256 of the raw body with the webhook
  secret), compared in constant time before the body is parsed (401), logged as Slack's are.
- Replays: a signature accepted once is not acted on again, nor an Events API delivery whose
  `event_id` was seen (Slack's retries carry `X-Slack-Retry-Num`): both are acknowledged with
  200 and dropped. The memory covers Slack's five-minute window and is bounded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("gobot.http")
MAX_SLACK_BODY = 256 * 1024
MAX_REST_BODY = 64 * 1024
MAX_GITHUB_BODY = 1024 * 1024  # a deployment's payload, with its pull requests
SIGNATURE_WINDOW_SECONDS = 300
REMEMBERED = 100_000
REST_PREFIX = "/core/go/"
SLACK_PATH = "/slack/events"
GITHUB_PATH = "/github/webhook"
BODY_LIMITS = {SLACK_PATH: MAX_SLACK_BODY, GITHUB_PATH: MAX_GITHUB_BODY}


class Seen:
    """Keys accepted within the last `window` seconds, at most `size` of them (oldest dropped)."""

    def __init__(
        self,
        window: float = SIGNATURE_WINDOW_SECONDS + 60,
        size: int = REMEMBERED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window, self._size, self._clock = window, size, clock
        self._keys: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, key: str) -> bool:
        """True the first time `key` is offered within the window, False after."""
        now = self._clock()
        with self._lock:
            while self._keys and next(iter(self._keys.values())) < now - self._window:
                self._keys.popitem(last=False)
            if key in self._keys:
                return False
            self._keys[key] = now
            while len(self._keys) > self._size:
                self._keys.popitem(last=False)
            return True


def signature_problem(
    secret: bytes, headers: dict[str, str], body: bytes, now: float | None = None
) -> str | None:
    """Why a request is not signed by Slack, or None if it is."""
    stamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not stamp.isascii() or not stamp.isdigit():
        return "missing or malformed timestamp"
    if abs((time.time() if now is None else now) - int(stamp)) > SIGNATURE_WINDOW_SECONDS:
        return "timestamp outside the five-minute window"
    digest = hmac.new(secret, b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not secrets.compare_digest(signature.encode("utf-8", "replace"), f"v0={digest}".encode()):
        return "bad signature"
    return None


def github_signature_problem(secret: bytes, headers: dict[str, str], body: bytes) -> str | None:
    """Why a webhook is not signed by GitHub with `secret`, or None if it is."""
    signature = headers.get("x-hub-signature-256", "")
    if not signature.startswith("sha256="):
        return "missing or malformed X-Hub-Signature-256"
    digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not secrets.compare_digest(
        signature.encode("utf-8", "replace"), f"sha256={digest}".encode()
    ):
        return "bad signature"
    return None


def event_id(body: str) -> str | None:
    """The Events API delivery id of a JSON body, if it has one."""
    if not body.startswith("{"):
        return None
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return None
    value = parsed.get("event_id") if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None


async def answer(
    send: Send, status: int, detail: str, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """A JSON `{"detail": …}` answer, sent straight as ASGI messages."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def header_map(scope: Scope) -> dict[str, str]:
    """A request's headers by lower-case name."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def body_problem(method: str, path: str, headers: dict[str, str]) -> tuple[int, str] | None:
    """Why a request's body may not be read (status and detail), or None: a POST must say how
    long it is, and be no longer than its path allows."""
    if method not in ("POST", "PUT", "PATCH"):
        return None
    limit = BODY_LIMITS.get(path, MAX_REST_BODY)
    length = headers.get("content-length", "")
    if not (length.isascii() and length.isdigit()):
        log.info("refused %s %s: no Content-Length", method, path)
        return 411, "a Content-Length is required"
    if int(length) > limit:
        log.info("refused %s %s: body of %s bytes", method, path, length)
        return 413, f"the body may be at most {limit} bytes"
    return None


async def read_body(receive: Receive) -> bytes:
    """The whole body of a request whose length was checked (the server holds it to that)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


SignatureCheck = Callable[[dict[str, str], bytes], str | None]


async def signed_body(
    scope: Scope, receive: Receive, send: Send, *, check: SignatureCheck, sender: str
) -> tuple[dict[str, str], bytes] | None:
    """A POST's headers and raw body, once its length is within the limit (413 / 411 before
    a byte is read) and `check` finds it signed by `sender` (401, and one log line that never
    holds the body); None once the request has been answered."""
    headers = header_map(scope)
    problem = body_problem("POST", scope["path"], headers)
    if problem is not None:
        await answer(send, *problem)
        return None
    raw = await read_body(receive)
    refusal = check(headers, raw)
    if refusal is not None:
        log.info("refused a %s request: %s", sender, refusal)
        await answer(send, 401, "invalid signature")
        return None
    return headers, raw


class EdgeGuard:
    """ASGI middleware of the FastAPI side: body limits for every POST, and the REST key, before
    any reading; a log line for every REST call."""

    def __init__(self, app: ASGIApp, api_key: bytes | None) -> None:
        self._app = app
        self._api_key = api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = header_map(scope)
        if self._api_key is not None and path.startswith(REST_PREFIX):
            given = headers.get("x-api-key", "").encode("latin-1")
            if not secrets.compare_digest(given, self._api_key):
                log.info("refused %s %s: missing or wrong X-API-Key", scope["method"], path)
                await answer(send, 401, "missing or wrong X-API-Key")
                return
        problem = body_problem(scope["method"], path, headers)
        if problem is not None:
            await answer(send, *problem)
            return
        if not path.startswith(REST_PREFIX):
            await self._app(scope, receive, send)
            return
        started, status = time.monotonic(), 500

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, noted)
        finally:
            took = (time.monotonic() - started) * 1000
            log.info("REST %s %s: %d in %.1f ms", scope["method"], path, status, took)
