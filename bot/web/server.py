"""The HTTP server: `POST /slack/events`, the REST API under `/core/go/`, `GET /healthz`,
`GET /metrics`.

Slack requests are dispatched through Bolt right on the event loop: its listeners run inline
and do no more than ack and hand the work to gobot's pool (see `bot.slack.app`), so an ack costs
the signature check and the parsing, with no thread hop and no polling for the ack.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt import BoltRequest

from bot.bootstrap import Runtime
from bot.web.rest import mount_rest


def create_http_app(runtime: Runtime) -> FastAPI:
    bolt, services = runtime.app, runtime.services
    api = FastAPI(title="gobot", version="0.1.0")
    mount_rest(api, services, runtime.settings)

    @api.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = (await request.body()).decode("utf-8")
        bolt_request = BoltRequest(
            body=body, query=request.url.query, headers=dict(request.headers)
        )
        with runtime.metrics.ack_seconds.time():
            answer = bolt.dispatch(bolt_request)
        headers = {key: values[0] for key, values in answer.headers.items() if values}
        headers.pop("content-length", None)
        return Response(status_code=answer.status, content=answer.body, headers=headers)

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
        }
        return JSONResponse(body, status_code=200 if not problems else 503)

    return api
