"""A Slack Web API stand-in on loopback: `gobot local` runs against it, and so do the tests.

A real HTTP server (port 0 by default, its socket kept from bind to `stop`, which returns at
once) that the real `slack_sdk.WebClient` talks to. It keeps
the messages posted, so `chat.update` of an unknown message fails as Slack's would; serves
`response_url`s; records every call with its body; can be told to fail (status, Slack
error, Retry-After, or a delay that makes the client time out); and can limit a method to N
calls a minute, answering 429 with Retry-After beyond it, as Slack's rate limits do.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from bot.dev.loopback import LoopbackServer, QuietHandler


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    """How the next call(s) to a method fail, once `after` calls have gone through. `applied`:
    the call still takes effect (a post that lands although the client times out waiting for
    the answer)."""

    status: int = 200
    error: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    times: int = 1
    applied: bool = False
    raw: bytes | None = None  # answer this body (e.g. a proxy's HTML page) instead of JSON
    after: int = 0


@dataclass
class Limit:
    """At most `per_minute` calls of a method in any 60 s (on `clock`, seconds); beyond it a
    call is answered 429 `ratelimited` with `retry_after` and takes no effect."""

    per_minute: int
    retry_after: float = 30.0
    clock: Callable[[], float] = time.monotonic
    accepted: deque[float] = field(default_factory=deque)
    refused: int = 0

    def admits(self) -> bool:
        now = self.clock()
        while self.accepted and now - self.accepted[0] >= 60:
            self.accepted.popleft()
        if len(self.accepted) >= self.per_minute:
            self.refused += 1
            return False
        self.accepted.append(now)
        return True


@dataclass
class Message:
    channel: str
    ts: str
    params: dict[str, Any]
    thread_ts: str | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    text = raw.decode("utf-8")
    if "json" in content_type:
        parsed: dict[str, Any] = json.loads(text) if text else {}
        return parsed
    params: dict[str, Any] = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    for key in ("blocks", "view", "attachments"):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


class FakeSlack(LoopbackServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.calls: list[Call] = []
        self.responses: list[Call] = []
        self.messages: dict[tuple[str, str], Message] = {}
        self.usergroups: dict[str, list[str]] = {}
        self._failures: dict[str, list[Failure]] = {}
        self._limits: dict[str, Limit] = {}
        self._lock = threading.Condition()
        self._ts = 1_700_000_000_000_000
        super().__init__(self._handler_class(), host, port)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, token: str) -> str:
        return f"{self.url}/response/{token}"

    # test controls -------------------------------------------------------------------------
    def fail(self, method: str, failure: Failure) -> None:
        with self._lock:
            self._failures.setdefault(method, []).append(failure)

    def limit(self, method: str, limit: Limit) -> Limit:
        """Rate-limit a method from now on (its counts are read on the returned `Limit`)."""
        with self._lock:
            self._limits[method] = limit
            return limit

    def heal(self) -> None:
        """Every method answers normally again (the failures still queued are forgotten)."""
        with self._lock:
            self._failures.clear()

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 30.0) -> list[Call]:
        if not self.wait_for(lambda fake: len(fake.calls_to(method)) >= count, timeout):
            raise AssertionError(
                f"expected {count} {method} call(s) within {timeout}s, "
                f"got {len(self.calls_to(method))}: {[c.method for c in self.calls]}"
            )
        return self.calls_to(method)

    # API -----------------------------------------------------------------------------------
    def _next_ts(self) -> str:
        """Timestamps as Slack's: seconds since the epoch now, unique."""
        self._ts = max(self._ts + 100, time.time_ns() // 1000)
        return f"{self._ts // 1_000_000}.{self._ts % 1_000_000:06d}"

    def post_directly(
        self, channel: str, text: str, thread_ts: str | None = None, user: str = "UOTHER"
    ) -> str:
        """A message someone else posted (busy channels in tests)."""
        with self._lock:
            ts = self._next_ts()
            params = {"channel": channel, "text": text, "thread_ts": thread_ts, "user": user}
            self.messages[(channel, ts)] = Message(channel, ts, params, thread_ts=thread_ts)
            return ts

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": "UBOT",
                "team_id": "T1",
                "bot_id": "BBOT",
                "url": "https://fake.slack.local/",
                "team": "fake",
                "user": "gobot",
            }
        if method in ("chat.postMessage", "chat.postEphemeral"):
            channel = str(params.get("channel", ""))
            if isinstance(params.get("metadata"), str):
                params["metadata"] = json.loads(params["metadata"])
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            ts = self._next_ts()
            key = "ts" if method == "chat.postMessage" else "message_ts"
            if method == "chat.postMessage":
                self.messages[(channel, ts)] = Message(
                    channel, ts, params, thread_ts=params.get("thread_ts")
                )
            return {"ok": True, "channel": channel, key: ts, "message": {"ts": ts}}
        if method == "chat.update":
            message = self.messages.get((str(params.get("channel")), str(params.get("ts"))))
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            message.updates.append(params)
            return {"ok": True, "channel": message.channel, "ts": message.ts}
        if method == "usergroups.users.list":
            users = self.usergroups.get(str(params.get("usergroup")))
            if users is None:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": users}
        if method in ("conversations.history", "conversations.replies", "chat.getPermalink"):
            return self._read(method, params)
        if method in ("views.open", "views.update"):
            view = params.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            return {"ok": True, "view": {"id": "VMODAL", **(view or {})}}
        if method in (
            "views.publish",
            "conversations.info",
            "functions.completeSuccess",
            "functions.completeError",
        ):
            return {"ok": True}
        return {"ok": False, "error": "unknown_method"}

    def _read(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """A page of a conversation, or a message's permalink."""
        if method == "chat.getPermalink":
            channel, ts = str(params.get("channel")), str(params.get("message_ts"))
            if (channel, ts) not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            link = f"https://fake.slack.local/archives/{channel}/p{ts.replace('.', '')}"
            return {"ok": True, "channel": channel, "permalink": link}
        found = self._conversation(method, params)
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        page = {"ok": True, "messages": found[start : start + limit]}
        if start + limit < len(found):
            page["response_metadata"] = {"next_cursor": str(start + limit)}
        return page

    def _conversation(self, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Messages of a channel (top level) or of a thread between `oldest` and `latest`
        (`inclusive` or not), newest first, with their author and metadata."""
        channel = str(params.get("channel"))
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        inclusive = params.get("inclusive") in (True, "true", "1", 1)
        found = []
        for message in self.messages.values():
            ts = float(message.ts)
            inside = oldest <= ts <= latest if inclusive else oldest < ts < latest
            if message.channel != channel or not inside:
                continue
            in_thread = message.thread_ts == params.get("ts") or message.ts == params.get("ts")
            if (method == "conversations.replies" and in_thread) or (
                method == "conversations.history" and message.thread_ts is None
            ):
                entry = {
                    "ts": message.ts,
                    "text": message.params.get("text", ""),
                    "user": message.params.get("user", "UBOT"),
                }
                if params.get("include_all_metadata") in (True, "true", "1", 1):
                    entry["metadata"] = message.params.get("metadata")
                found.append(entry)
        return sorted(found, key=lambda m: m["ts"], reverse=True)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                self._handle(path, {k: v[0] for k, v in parse_qs(query).items()})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                path, _, query = self.path.partition("?")
                params = {k: v[0] for k, v in parse_qs(query).items()}
                params.update(
                    _parse_body(self.rfile.read(length), self.headers.get("Content-Type", ""))
                )
                self._handle(path, params)

            def _handle(self, path: str, params: dict[str, Any]) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                if path.startswith("/response/"):
                    with fake._lock:
                        fake.responses.append(
                            Call(path.removeprefix("/response/"), params, headers)
                        )
                        fake._lock.notify_all()
                    self._send(200, b"ok", "text/plain")
                    return
                method = path.removeprefix("/api/")
                with fake._lock:
                    fake.calls.append(Call(method, params, headers))
                    queue = fake._failures.get(method) or []
                    failure = queue[0] if queue else None
                    if failure is not None and failure.after > 0:
                        failure.after -= 1
                        failure = None
                    elif failure is not None:
                        failure.times -= 1
                        if failure.times <= 0:
                            queue.pop(0)
                    limit = fake._limits.get(method)
                    if failure is None and limit is not None and not limit.admits():
                        failure = Failure(429, "ratelimited", retry_after=limit.retry_after)
                    applied = failure is None or failure.applied
                    answer = fake._answer(method, params) if applied else None
                    fake._lock.notify_all()
                if failure is not None:
                    time.sleep(failure.delay)
                    extra = {}
                    if failure.retry_after is not None:
                        extra["Retry-After"] = f"{failure.retry_after:g}"
                    if failure.raw is not None:
                        self._send(failure.status, failure.raw, "text/html", extra)
                        return
                    body = {"ok": False, "error": failure.error or "fatal_error"}
                    self._send(failure.status, json.dumps(body).encode(), "application/json", extra)
                    return
                self._send(200, json.dumps(answer).encode(), "application/json")

        return Handler
