"""The HTTP server: `POST /slack/events`, the REST API under `/core/go/`, `GET /healthz`,
`GET /metrics`.

Slack requests are dispatched through Bolt right on the event loop: its listeners run inline
and do no more than ack and hand the work to gobot's pool (see `bot.slack.app`), so an ack costs
the signature check and the parsing, with no thread hop and no polling for the ack.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import SecretStr
from slack_bolt import App, BoltRequest

from bot.bootstrap import Runtime
from bot.web.guard import EdgeGuard, Seen, event_id, signature_problem
from bot.web.rest import mount_rest

log = logging.getLogger("gobot.http")


def create_http_app(runtime: Runtime) -> FastAPI:
    bolt, services, settings = runtime.app, runtime.services, runtime.settings
    key = settings.api_key
    rest = key is not None
    api = FastAPI(
        title="gobot",
        version="0.1.0",
        docs_url="/docs" if rest else None,
        redoc_url="/redoc" if rest else None,
        openapi_url="/openapi.json" if rest else None,
    )
    mount_rest(api, services, settings)
    api.add_middleware(EdgeGuard, api_key=key.get_secret_value().encode() if key else None)
    _mount_slack(api, runtime, bolt)
    _mount_operations(api, runtime)
    return api


def _mount_slack(api: FastAPI, runtime: Runtime, bolt: App) -> None:
    """`POST /slack/events`: checked by gobot itself, then dispatched through Bolt."""
    signing = runtime.settings.slack_signing_secret or SecretStr("")
    secret = signing.get_secret_value().encode()
    seen = Seen()

    @api.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        """Time from reading the request to answering it: the ack, as Slack waits for it."""
        started = time.monotonic()
        try:
            return await answer_slack(request)
        finally:
            runtime.metrics.ack_seconds.observe(time.monotonic() - started)

    async def answer_slack(request: Request) -> Response:
        raw = await request.body()
        headers = dict(request.headers.items())  # names in lower case
        problem = signature_problem(secret, headers, raw)
        if problem is not None:
            log.info("refused a Slack request: %s", problem)
            return JSONResponse({"detail": "invalid request"}, status_code=401)
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            log.info("refused a signed Slack request: the body is not UTF-8")
            return JSONResponse({"detail": "the body is not UTF-8"}, status_code=400)
        delivery = event_id(body)
        if not seen.first(headers["x-slack-signature"]) or (
            delivery is not None and not seen.first(f"event:{delivery}")
        ):
            retry = headers.get("x-slack-retry-num")
            log.info(
                "acknowledged a repeated Slack request without acting%s",
                " (retry)" if retry else "",
            )
            return Response(status_code=200)
        forwarded: dict[str, str | Sequence[str]] = dict(headers)
        bolt_request = BoltRequest(body=body, query=request.url.query, headers=forwarded)
        answer = bolt.dispatch(bolt_request)
        headers = {key: values[0] for key, values in answer.headers.items() if values}
        headers.pop("content-length", None)
        return Response(status_code=answer.status, content=answer.body, headers=headers)


def _mount_operations(api: FastAPI, runtime: Runtime) -> None:
    """`GET /metrics` and `GET /healthz`."""
    services = runtime.services

    @api.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @api.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """200 when the store answers, the scheduler runs and has ticked lately; else 503
        naming what is wrong."""
        problems = []
        try:
            services.sessions.latest()
            store = "ok"
        except Exception as exc:
            store = f"unreadable: {type(exc).__name__}"
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
