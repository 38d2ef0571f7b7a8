"""The HTTP server: `POST /slack/events`, `POST /github/webhook` (bot.web.github), the REST API
under `/core/go/`, `GET /healthz`, `GET /metrics`.

`POST /slack/events` is answered by a plain ASGI handler in front of FastAPI: the body limit,
the signature (checked here, once: Bolt's own check is off), the replay memory, then Bolt's
dispatch right on the event loop. Its listeners run inline and do no more than ack and hand the
work to gobot's pool (see `bot.slack.app`), so an ack costs the checks and Bolt's parsing, with
no routing, no thread hop and no polling for the ack. Every other path goes to the FastAPI app
behind the `EdgeGuard`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt import BoltRequest
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.bootstrap import Runtime
from bot.web.github import GithubWebhook
from bot.web.guard import (
    GITHUB_PATH,
    SLACK_PATH,
    EdgeGuard,
    Seen,
    answer,
    event_id,
    signature_problem,
    signed_body,
)
from bot.web.rest import mount_rest

log = logging.getLogger("gobot.http")


class HttpApp:
    """The ASGI app `gobot serve` runs: Slack's requests answered here, the rest by FastAPI."""

    def __init__(self, runtime: Runtime, api: ASGIApp) -> None:
        self._runtime = runtime
        self._api = api
        signing = runtime.settings.slack_signing_secret
        self._secret = signing.get_secret_value().encode() if signing is not None else b""
        self._seen = Seen()
        hook = runtime.settings.github_webhook_secret
        self._github = GithubWebhook(
            runtime.services, runtime.work, hook.get_secret_value().encode() if hook else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == GITHUB_PATH:
            await self._github(scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"] != SLACK_PATH:
            await self._api(scope, receive, send)
            return
        if scope["method"] != "POST":
            await answer(send, 405, "Method Not Allowed", ((b"allow", b"POST"),))
            return
        started = time.monotonic()
        try:
            await self._slack(scope, receive, send)
        finally:
            self._runtime.metrics.ack_seconds.observe(time.monotonic() - started)

    async def _slack(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Checked, deduplicated, then dispatched through Bolt: the ack, as Slack waits for it."""
        signed = await signed_body(
            scope,
            receive,
            send,
            check=lambda headers, raw: signature_problem(self._secret, headers, raw),
            sender="Slack",
        )
        if signed is None:
            return
        headers, raw = signed
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            log.info("refused a signed Slack request: the body is not UTF-8")
            await answer(send, 400, "the body is not UTF-8")
            return
        delivery = event_id(body)
        if not self._seen.first(headers["x-slack-signature"]) or (
            delivery is not None and not self._seen.first(f"event:{delivery}")
        ):
            retry = headers.get("x-slack-retry-num")
            log.info(
                "acknowledged a repeated Slack request without acting%s",
                " (retry)" if retry else "",
            )
            await Response(status_code=200)(scope, receive, send)
            return
        forwarded: dict[str, str | Sequence[str]] = dict(headers)
        query = scope.get("query_string", b"").decode("latin-1")
        bolt_answer = self._runtime.app.dispatch(
            BoltRequest(body=body, query=query, headers=forwarded)
        )
        answered = {key: values[0] for key, values in bolt_answer.headers.items() if values}
        answered.pop("content-length", None)
        response = Response(
            status_code=bolt_answer.status, content=bolt_answer.body, headers=answered
        )
        await response(scope, receive, send)


def create_http_app(runtime: Runtime) -> HttpApp:
    settings = runtime.settings
    key = settings.api_key
    rest = key is not None
    api = FastAPI(
        title="gobot",
        version="0.1.0",
        docs_url="/docs" if rest else None,
        redoc_url="/redoc" if rest else None,
        openapi_url="/openapi.json" if rest else None,
    )
    mount_rest(api, runtime.services, settings)
    api.add_middleware(EdgeGuard, api_key=key.get_secret_value().encode() if key else None)
    _mount_operations(api, runtime)
    return HttpApp(runtime, api)


def run_http(runtime: Runtime, host: str, port: int) -> None:
    """Serve until stopped (the CLI's `serve` and the benchmarks run the same server)."""
    uvicorn.run(create_http_app(runtime), host=host, port=port, log_config=None, access_log=False)


def _mount_operations(api: FastAPI, runtime: Runtime) -> None:
    """`GET /metrics` and `GET /healthz`."""
    services = runtime.services

    @api.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @api.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """200 when the store answers and can keep a change, the scheduler runs and has ticked
        lately; else 503 naming what is wrong."""
        problems = []
        try:
            services.sessions.latest()
            unwritable = services.write_problem()
            store = f"not writable: {unwritable}" if unwritable else "ok"
        except Exception as exc:
            store = f"unreadable: {type(exc).__name__}"
        if store != "ok":
            problems.append(f"store {store}")
        ticker = runtime.ticker
        age = ticker.last_tick_age()
        stale_after = 3 * runtime.settings.tick.total_seconds() + 30
        if not ticker.running:
            problems.append("scheduler not running")
        elif age is not None and age > stale_after:
            problems.append(f"last tick {age:.0f}s ago")
        body = {
            "ok": not problems,
            "store": store,
            "scheduler": "running" if ticker.running else "stopped",
            "last_tick_age_seconds": None if age is None else round(age, 1),
            "problems": problems,
            "slack_waiting": dict(services.delivery.waiting()) if services.delivery else {},
        }
        return JSONResponse(body, status_code=200 if not problems else 503)
